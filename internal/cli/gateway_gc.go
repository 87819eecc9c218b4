package cli

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// The collector's settings of `plumb gateway` unless the environment sets GOGC or GOMEMLIMIT
// (bench/README.md): a target of gatewayGCPercent over the live heap, with a heap of
// gatewayHeapFloor at least. The gateway keeps a few MB live and allocates ~15 KB a call: a
// proportional target alone (live × 3) collects every ~0.2 s at 3,000 calls a second, and the
// calls that meet a collection (~5 ms of both cores' time) make the p99. With the floor it
// collects 3–4 times less often, for ~20–30 MB more resident memory (~85 MB peak in the
// benchmark).
const (
	gatewayGCPercent = 200
	gatewayHeapFloor = 32 << 20
)

// tuneGatewayGC applies the gateway's collector settings unless GOGC or GOMEMLIMIT is set.
// The returned function stops keeping the floor (the gateway never calls it; tests do).
func tuneGatewayGC(getenv func(string) string) (stop func()) {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	debug.SetGCPercent(gatewayGCPercent)
	return keepHeapFloor(gatewayHeapFloor, gatewayGCPercent)
}

// keepHeapFloor keeps the collector's heap goal at floor bytes at least and percent over the
// live heap above it, what a memory "ballast" did without one: after each collection it sets
// the target at which the live heap grows to the floor, or percent when that is larger.
func keepHeapFloor(floor uint64, percent int) (stop func()) {
	var stopped atomic.Bool
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	last := percent
	var arm func()
	arm = func() {
		if stopped.Load() {
			return
		}
		metrics.Read(sample)
		if p := gcPercentFor(sample[0].Value.Uint64(), floor, percent); p != last {
			debug.SetGCPercent(p)
			last = p
		}
		// A sentinel nothing refers to: its cleanup runs after the next collection. (Not a
		// tiny allocation, which the runtime may batch with live ones.)
		runtime.AddCleanup(new([64]byte), func(struct{}) { arm() }, struct{}{})
	}
	arm()
	return func() { stopped.Store(true) }
}

// maxGCPercent bounds the target keepHeapFloor sets when the live heap is tiny.
const maxGCPercent = 5000

// gcPercentFor is the collector's target for a live heap of live bytes: the one at which the
// heap reaches floor, rounded up to a multiple of 50 (so that small changes of the live heap
// leave it as it is), if that is above percent; percent otherwise.
func gcPercentFor(live, floor uint64, percent int) int {
	if live == 0 || live*uint64(100+percent)/100 >= floor {
		return percent
	}
	p := int((floor*100/live - 100 + 49) / 50 * 50)
	return min(max(p, percent), maxGCPercent)
}
