package metrics

import "testing"

func TestParseNvidiaSMI(t *testing.T) {
	tests := []struct {
		in      string
		want    GPUSample
		wantErr bool
	}{
		{"1135, 67\n", GPUSample{MemoryMB: 1135, UtilPct: 67}, false},
		{"0, 0\n1, 1\n", GPUSample{}, false}, // first GPU line only
		{"[N/A], 3\n", GPUSample{}, true},
		{"garbage", GPUSample{}, true},
		{"", GPUSample{}, true},
	}
	for _, tc := range tests {
		got, err := parseNvidiaSMI([]byte(tc.in))
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("parse(%q) = %+v, %v; want %+v, err %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}
