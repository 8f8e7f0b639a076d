package harness

import (
	"encoding/hex"
	"testing"

	zeebo "github.com/zeebo/blake3"
)

// independentDigest hashes a hand-written canonical string with a second,
// independent BLAKE3 implementation (zeebo/blake3), so the expectation does
// not come from the code under test.
func independentDigest(canonical string) string {
	sum := zeebo.Sum256([]byte(canonical))
	return hex.EncodeToString(sum[:])
}

func TestStateDigestEmptyStateIsBlake3OfEmptyString(t *testing.T) {
	// Published BLAKE3-256 test vector for the empty input.
	const want = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
	if got := StateDigest(nil); got != want {
		t.Fatalf("StateDigest(nil) = %s, want %s", got, want)
	}
	if got := StableStateDigest([]StateEntry{{"a", "heartbeat", 3}}); got != want {
		t.Fatalf("stable digest of a heartbeat-only state = %s, want the empty digest %s", got, want)
	}
	if got := independentDigest(""); got != want {
		t.Fatalf("independent implementation disagrees on the empty vector: %s", got)
	}
}

func TestStateDigestTinyStateMatchesHandComputedCanonicalForm(t *testing.T) {
	entries := []StateEntry{
		{Owner: "nodeB", Key: "topology", Seq: 1},
		{Owner: "nodeA", Key: "topology", Seq: 2},
		{Owner: "nodeA", Key: "heartbeat", Seq: 17},
	}
	// Sorted by owner, then key; one line per entry, tab separated, decimal seq.
	const canonical = "nodeA\theartbeat\t17\n" +
		"nodeA\ttopology\t2\n" +
		"nodeB\ttopology\t1\n"
	const stableCanonical = "nodeA\ttopology\t2\n" +
		"nodeB\ttopology\t1\n"

	if got := string(CanonicalState(entries)); got != canonical {
		t.Fatalf("CanonicalState = %q, want %q", got, canonical)
	}
	if got, want := StateDigest(entries), independentDigest(canonical); got != want {
		t.Fatalf("StateDigest = %s, want %s", got, want)
	}
	if got, want := StableStateDigest(entries), independentDigest(stableCanonical); got != want {
		t.Fatalf("StableStateDigest = %s, want %s", got, want)
	}
	if len(StateDigest(entries)) != 64 {
		t.Fatalf("digest must be 64 hex chars")
	}
}

func TestCanonicalStateSortsByOwnerBytesThenKeyBytes(t *testing.T) {
	entries := []StateEntry{
		{"b", "k", 1},
		{"a", "z", 2},
		{"B", "k", 3},   // 'B' (0x42) sorts before 'a' (0x61): byte order, not case-folded
		{"ab", "k", 4},  // "a" < "ab" < "b"
		{"a", "Z", 5},   // keys compared by bytes too
		{"é", "k", 6},   // multi-byte UTF-8 sorts after ASCII
		{"a", "k", -7},  // negative sequence numbers are rendered as Go prints them
		{"a", "k2", 10}, // decimal, no padding
	}
	const want = "B\tk\t3\n" +
		"a\tZ\t5\n" +
		"a\tk\t-7\n" +
		"a\tk2\t10\n" +
		"a\tz\t2\n" +
		"ab\tk\t4\n" +
		"b\tk\t1\n" +
		"é\tk\t6\n"
	if got := string(CanonicalState(entries)); got != want {
		t.Fatalf("CanonicalState =\n%q\nwant\n%q", got, want)
	}
	if entries[0].Owner != "b" {
		t.Fatalf("CanonicalState must not reorder its input")
	}
	reversed := make([]StateEntry, len(entries))
	for i, e := range entries {
		reversed[len(entries)-1-i] = e
	}
	if StateDigest(reversed) != StateDigest(entries) {
		t.Fatalf("digest depends on input order")
	}
}

func TestStableDigestLeavesOutOnlyHeartbeatKeys(t *testing.T) {
	base := []StateEntry{{"a", "topology", 1}, {"a", "left", 2}, {"heartbeat", "x", 3}, {"a", "heartbeats", 4}}
	withBeats := append(append([]StateEntry{}, base...),
		StateEntry{"a", "heartbeat", 5}, StateEntry{"b", "heathbeat", 6})

	if StableStateDigest(withBeats) != StateDigest(base) {
		t.Fatalf("stable digest must equal the full digest of the state without heartbeat/heathbeat entries")
	}
	if StateDigest(withBeats) == StateDigest(base) {
		t.Fatalf("full digest must cover heartbeat entries")
	}
	// Owner "heartbeat" and key "heartbeats" are not heartbeat keys.
	if StableStateDigest(base) == StableStateDigest(base[:1]) {
		t.Fatalf("stable digest dropped non-heartbeat entries")
	}
	// A bumped heartbeat changes the full digest but not the stable one.
	bumped := append(append([]StateEntry{}, base...),
		StateEntry{"a", "heartbeat", 99}, StateEntry{"b", "heathbeat", 6})
	if StableStateDigest(bumped) != StableStateDigest(withBeats) || StateDigest(bumped) == StateDigest(withBeats) {
		t.Fatalf("heartbeat bump must move only the full digest")
	}
}
