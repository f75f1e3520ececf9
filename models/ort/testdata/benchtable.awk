# benchtable.awk turns `go test -bench 'SgemmPeak|Session' ./models/ort`
# output (any -count) into a markdown table of medians per grid point:
# pairs/s and GFLOP/s per wall-second, the same per CPU-second (steadier on
# a shared machine), and each as a percentage of the median sgemm peak with
# the same thread count, measured the same way.
#   awk -f models/ort/testdata/benchtable.awk reports/runtime-bench.txt
function median(list,    n, a, i, j, t) {
	n = split(list, a, " ")
	if (n == 0) return 0
	for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j+1] = a[j]; a[j+1] = t }
	return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
function metric(name,    i) { for (i = 3; i < NF; i++) if ($(i+1) == name) return $i; return "" }
function pct(x, p) { return p > 0 ? sprintf("%.0f%%", 100 * x / p) : "-" }
/^BenchmarkSgemmPeak\/t=/ {
	split($1, p, "[=-]"); peak[p[2]] = peak[p[2]] " " metric("GFLOP/s"); peakc[p[2]] = peakc[p[2]] " " metric("GFLOP/cpu-s")
}
/^BenchmarkSession\// {
	name = $1; sub(/^BenchmarkSession\//, "", name); sub(/-[0-9]+$/, "", name)
	if (!(name in pairs)) order[++n] = name
	pairs[name] = pairs[name] " " metric("pairs/s"); gf[name] = gf[name] " " metric("GFLOP/s")
	pc[name] = pc[name] " " metric("pairs/cpu-s"); gc[name] = gc[name] " " metric("GFLOP/cpu-s"); runs[name]++
}
END {
	for (t in peak) printf "sgemm peak, %s thread(s): %.0f GFLOP/s, %.0f GFLOP/cpu-s (medians of %d)\n", t, median(peak[t]), median(peakc[t]), split(peak[t], x, " ")
	print ""
	print "| dtype | threads | batch | seq | pairs/s | GFLOP/s | % peak | pairs/cpu-s | GFLOP/cpu-s | % peak/cpu-s | runs |"
	print "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|"
	for (i = 1; i <= n; i++) {
		k = order[i]; split(k, f, "/"); split(f[2], th, "="); split(f[3], bb, "="); split(f[4], ll, "=")
		g = median(gf[k]); c = median(gc[k])
		printf "| %s | %s | %s | %s | %.1f | %.1f | %s | %.1f | %.1f | %s | %d |\n", f[1], th[2], bb[2], ll[2], median(pairs[k]), g, pct(g, median(peak[th[2]])), median(pc[k]), c, pct(c, median(peakc[th[2]])), runs[k]
	}
}
