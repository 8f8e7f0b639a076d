package harness

import (
	"reflect"
	"testing"
)

func TestKeySetStartsWithBaseAndWatchKeysSortedWithoutDuplicates(t *testing.T) {
	ks := NewKeySet("zz", "", "topology", "app.key")
	want := []string{"app.key", "heartbeat", "heathbeat", "left", "topology", "zz"}
	if got := ks.Keys(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Keys() = %v, want %v", got, want)
	}
	ks.Add("b", "left", "")
	want = []string{"app.key", "b", "heartbeat", "heathbeat", "left", "topology", "zz"}
	if got := ks.Keys(); !reflect.DeepEqual(got, want) {
		t.Fatalf("after Add: Keys() = %v, want %v", got, want)
	}
}
