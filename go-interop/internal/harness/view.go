package harness

import (
	"sort"
	"strconv"
)

// MemberView is one MemberList member as /view reports it.
type MemberView struct {
	ID    string   `json:"id"`
	Host  string   `json:"host"`
	Port  int32    `json:"port"`
	Kinds []string `json:"kinds"`
}

// KeyValueView is one owner's entry for a gossip key: its sequence number and
// how long ago (by this node's clock) the entry was stored or last replaced.
type KeyValueView struct {
	Seq   int64 `json:"seq"`
	AgeMs int64 `json:"age_ms"`
}

// ConsensusView is MemberList.TopologyConsensus's result. Hash is a decimal
// string for the same reason as View.TopologyHash.
type ConsensusView struct {
	Reached bool   `json:"reached"`
	Hash    string `json:"hash"`
}

// View is the JSON body of GET /view.
//
// TopologyHash is a uint64 rendered as a decimal string: most hashes exceed
// 2^53 and would lose precision as a JSON number in many parsers.
type View struct {
	ID                string                             `json:"id"`
	MemberID          string                             `json:"member_id"`
	Address           string                             `json:"address"`
	Members           []MemberView                       `json:"members"`
	TopologyHash      string                             `json:"topology_hash"`
	Blocked           []string                           `json:"blocked"`
	Gossip            map[string]map[string]KeyValueView `json:"gossip"`
	StateDigest       string                             `json:"state_digest"`
	StateDigestStable string                             `json:"state_digest_stable"`
	HeartbeatAgesMs   map[string]int64                   `json:"heartbeat_ages_ms"`
	Consensus         ConsensusView                      `json:"consensus"`
}

// GossipEntry is the raw part of a cluster.GossipKeyValue that View needs.
type GossipEntry struct {
	Seq              int64
	LocalTimestampMs int64
}

// Snapshot is what a node read from protoactor-go at one moment; BuildView
// turns it into a View without touching the cluster, which keeps the JSON
// shape unit-testable.
type Snapshot struct {
	ID       string
	MemberID string
	Address  string
	Members  []MemberView
	// TopologyHash as MemberList's MemberSet computes it.
	TopologyHash uint64
	Blocked      []string
	// State maps gossip key → owner id → entry, for every reported key (a key
	// with no entries maps to an empty or nil map).
	State map[string]map[string]GossipEntry
	// HeartbeatKey is the key the pinned Go version writes heartbeats under.
	HeartbeatKey     string
	NowMs            int64
	ConsensusReached bool
	ConsensusHash    uint64
}

// BuildView renders a Snapshot: members sorted by id, blocked sorted, every
// reported key present in Gossip (possibly empty), digests over all entries.
func BuildView(s Snapshot) View {
	members := make([]MemberView, len(s.Members))
	copy(members, s.Members)
	for i := range members {
		if members[i].Kinds == nil {
			members[i].Kinds = []string{}
		}
	}
	sort.SliceStable(members, func(i, j int) bool { return members[i].ID < members[j].ID })

	blocked := append([]string{}, s.Blocked...)
	sort.Strings(blocked)

	gossip := make(map[string]map[string]KeyValueView, len(s.State))
	var entries []StateEntry
	for key, owners := range s.State {
		kv := make(map[string]KeyValueView, len(owners))
		for owner, e := range owners {
			kv[owner] = KeyValueView{Seq: e.Seq, AgeMs: s.NowMs - e.LocalTimestampMs}
			entries = append(entries, StateEntry{Owner: owner, Key: key, Seq: e.Seq})
		}
		gossip[key] = kv
	}

	hb := make(map[string]int64)
	for owner, e := range s.State[s.HeartbeatKey] {
		hb[owner] = s.NowMs - e.LocalTimestampMs
	}

	return View{
		ID:                s.ID,
		MemberID:          s.MemberID,
		Address:           s.Address,
		Members:           members,
		TopologyHash:      strconv.FormatUint(s.TopologyHash, 10),
		Blocked:           blocked,
		Gossip:            gossip,
		StateDigest:       StateDigest(entries),
		StateDigestStable: StableStateDigest(entries),
		HeartbeatAgesMs:   hb,
		Consensus: ConsensusView{
			Reached: s.ConsensusReached,
			Hash:    strconv.FormatUint(s.ConsensusHash, 10),
		},
	}
}
