//go:build race

package main

// memoryFactor scales TestLoginFlood's memory bound: under the race
// detector, memory costs its shadow memory too.
const memoryFactor = 4.0
