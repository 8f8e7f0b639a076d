package harness

import "runtime/debug"

// ProtoactorModule is the module path of protoactor-go.
const ProtoactorModule = "github.com/asynkron/protoactor-go"

// PinnedProtoactorVersion is the version go.mod pins; ProtoactorVersion falls
// back to it only when the binary carries no module build info.
const PinnedProtoactorVersion = "v0.0.0-20240822202345-3c0e61ca19c9"

// ProtoactorVersion is the protoactor-go version linked into this binary, read
// from the module build info so the READY line reports what was really built.
func ProtoactorVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == ProtoactorModule {
				if dep.Replace != nil {
					return dep.Replace.Version
				}
				return dep.Version
			}
		}
	}
	return PinnedProtoactorVersion
}
