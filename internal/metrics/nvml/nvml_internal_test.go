package nvml

import "testing"

func TestVisibleDevice(t *testing.T) {
	tests := []struct {
		env   string
		index int
		uuid  string
	}{
		{"", 0, ""},
		{"2", 2, ""},
		{" 3 ,0", 3, ""},
		{"GPU-8f1c2a3b-0000-1111-2222-333344445555,1", -1, "GPU-8f1c2a3b-0000-1111-2222-333344445555"},
	}
	for _, tc := range tests {
		i, u := visibleDevice(tc.env)
		if i != tc.index || u != tc.uuid {
			t.Errorf("visibleDevice(%q) = %d, %q; want %d, %q", tc.env, i, u, tc.index, tc.uuid)
		}
	}
}
