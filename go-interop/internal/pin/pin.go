// Package pin names the protoactor-go packages the interop tools build on,
// so `go mod tidy` keeps the pinned version and its checksums even while a
// tool is being rewritten.
package pin

import (
	_ "github.com/asynkron/protoactor-go/cluster"
	_ "github.com/asynkron/protoactor-go/cluster/clusterproviders/automanaged"
	_ "github.com/asynkron/protoactor-go/remote"
)
