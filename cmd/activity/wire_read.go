package main

// wireReadAPI mounts the analytics API (read/).
func wireReadAPI(a *app) {}
