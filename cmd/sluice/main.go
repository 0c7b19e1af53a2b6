// Command sluice runs text-curation pipelines described in YAML.
//
//	sluice run pipeline.yaml [flags]   run a pipeline and print its summary
//	sluice stages [type...]            list the stage types and their config
//	sluice dedup fuzzy --input PATH --output DIR   fuzzy deduplication
//	sluice version (or sluice --version)           print the version
//
// Exit codes: 0 success; 1 some tasks failed, or the run aborted or was
// interrupted; 2 usage or configuration error.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
