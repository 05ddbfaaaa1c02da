module github.com/sluicehq/sluice

go 1.26.8

require (
	github.com/sluicehq/sluice/schemas v0.0.0
	github.com/sluicehq/sluice/platform v0.0.0
	github.com/sluicehq/sluice/ingest v0.0.0
	github.com/sluicehq/sluice/validate v0.0.0
	github.com/sluicehq/sluice/transform v0.0.0
	github.com/sluicehq/sluice/load v0.0.0
	github.com/sluicehq/sluice/notify v0.0.0
)

replace (
	github.com/sluicehq/sluice/schemas => ./schemas
	github.com/sluicehq/sluice/platform => ./platform
	github.com/sluicehq/sluice/ingest => ./ingest
	github.com/sluicehq/sluice/validate => ./validate
	github.com/sluicehq/sluice/transform => ./transform
	github.com/sluicehq/sluice/load => ./load
	github.com/sluicehq/sluice/notify => ./notify
)
