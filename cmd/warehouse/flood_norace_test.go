//go:build !race

package main

// memoryFactor scales TestLoginFlood's memory bound (see flood_race_test.go).
const memoryFactor = 1.1
