module github.com/sluicehq/sluice/validate

go 1.26.8

require github.com/sluicehq/sluice/schemas v0.0.0

replace github.com/sluicehq/sluice/schemas => ../schemas

require github.com/sluicehq/sluice/platform v0.0.0

replace github.com/sluicehq/sluice/platform => ../platform
