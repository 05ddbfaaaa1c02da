# The two commands a fresh machine needs: `make demo` and `make test`.
# scripts/parts.sh installs the real parts (ClickHouse, MinIO, Mailpit) once.

PKGS := ./... ./schemas/... ./platform/... ./ingest/... ./validate/... ./transform/... ./load/... ./notify/...

.PHONY: demo test test-cluster bench faults parts build vet

demo: parts
	go run ./cmd/sluice demo

# The fault suite's short form runs after the tests: CI runs it (issue 9).
# What tests keep (the console's screenshots) goes under e2e/artifacts/.
# -parallel 16: the e2e tests mostly wait on imports, not on the CPU, and
# run together (e2e/main_test.go); Go's default is one per core.
test: parts vet
	mkdir -p e2e/artifacts
	go test -count=1 -timeout 25m -parallel 16 -artifacts -outputdir $(CURDIR)/e2e/artifacts $(PKGS)
	FAULTS_SHORT=1 go run ./faults

# The cluster's end-to-end test (cluster/), a node of each part killed
# mid-import; CLUSTER_ROWS sets its size (default 200000).
test-cluster: parts
	go test -tags cluster -count=1 -timeout 30m -v ./cluster/

bench: parts
	go run ./bench

# The fault suite, full form (RELIABILITY.md); FAULTS_SHORT=1 is CI's.
faults: parts
	go run ./faults

parts:
	scripts/parts.sh

build:
	go build -o bin/sluice ./cmd/sluice

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "not gofmt-ed: $$unformatted"; exit 1; fi
	go vet $(PKGS)
	go vet -tags cluster ./cluster/
