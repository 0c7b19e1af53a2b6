// Package examples holds an example pipeline, pipeline.yaml, and its sample
// input, data/sample.jsonl: 300 synthetic records made by the generator in
// sample_test.go (go test ./examples/ -update rewrites the file).
//
// Run it from anywhere; relative paths in the YAML are relative to its
// directory:
//
//	go run ./cmd/sluice run examples/pipeline.yaml
package examples
