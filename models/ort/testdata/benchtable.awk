# benchtable.awk turns `go test -bench 'SgemmPeak|Session' ./models/ort`
# output (any -count) into a markdown table: the median pairs/s and GFLOP/s
# of each grid point, and that GFLOP/s as a percentage of the median sgemm
# peak measured with the same thread count.
#   awk -f models/ort/testdata/benchtable.awk reports/runtime-bench.txt
function median(list,    n, a, i, j, t) {
	n = split(list, a, " ")
	for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j+1] = a[j]; a[j+1] = t }
	return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
function metric(name,    i) { for (i = 3; i < NF; i++) if ($(i+1) == name) return $i; return "" }
/^BenchmarkSgemmPeak\/t=/ {
	split($1, p, "[=-]"); peak[p[2]] = peak[p[2]] " " metric("GFLOP/s")
}
/^BenchmarkSession\// {
	name = $1; sub(/^BenchmarkSession\//, "", name); sub(/-[0-9]+$/, "", name)
	if (!(name in pairs)) order[++n] = name
	pairs[name] = pairs[name] " " metric("pairs/s"); gf[name] = gf[name] " " metric("GFLOP/s"); runs[name]++
}
END {
	for (t in peak) printf "sgemm peak, %s thread(s): %.0f GFLOP/s (median of %d)\n", t, median(peak[t]), split(peak[t], x, " ")
	print ""
	print "| dtype | threads | batch | seq | pairs/s | GFLOP/s | % of peak | runs |"
	print "|---|---|---|---|---:|---:|---:|---:|"
	for (i = 1; i <= n; i++) {
		split(order[i], f, "/"); split(f[2], th, "="); split(f[3], bb, "="); split(f[4], ll, "=")
		pk = (th[2] in peak) ? median(peak[th[2]]) : 0
		g = median(gf[order[i]])
		printf "| %s | %s | %s | %s | %.1f | %.1f | %s | %d |\n", f[1], th[2], bb[2], ll[2], median(pairs[order[i]]), g, pk ? sprintf("%.0f%%", 100*g/pk) : "-", runs[order[i]]
	}
}
