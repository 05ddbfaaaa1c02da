module github.com/sluicehq/sluice/schemas

go 1.26.8
