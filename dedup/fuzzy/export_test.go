package fuzzy

// Task metadata keys, for tests that read the stages' outputs.
const (
	MetaNodes     = metaNodes
	MetaDups      = metaDups
	MetaTopGroups = metaTopGroups
)
