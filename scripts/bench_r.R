#!/usr/bin/env Rscript
# Time R's wilcox.test(canary, baseline, conf.int = TRUE, exact = FALSE, correct = TRUE,
# conf.level = 0.98) at 100, 1k, 10k and 100k values per side: the reference for
# canaryd's `mann_whitney/<size>` criterion benchmark (benches/judges.rs). Base R only.
#
#   Rscript scripts/bench_r.R [SIZE ...]
#
# Data: lognormal latencies, median 100 ms, log-sd 0.5, the canary 10% slower (as the
# bench), fixed seed. Each size is timed `reps` times (one timing covers `inner` calls,
# divided, so that the small sizes are above the clock's resolution); stdout gets one
# line per size: `size median_seconds` (seconds per call). Progress goes to stderr.
# R at 100k per side takes tens of seconds per call, so that size has only 3 reps.

args <- commandArgs(trailingOnly = TRUE)
sizes <- if (length(args) > 0) as.integer(args) else c(100L, 1000L, 10000L, 100000L)

# reps (timings per size) and inner (calls per timing).
plan <- function(n) {
  if (n <= 100) list(reps = 15, inner = 50)
  else if (n <= 1000) list(reps = 11, inner = 5)
  else if (n <= 10000) list(reps = 7, inner = 1)
  else list(reps = 3, inner = 1)
}

run <- function(x, y) {
  wilcox.test(x, y, conf.int = TRUE, exact = FALSE, correct = TRUE, conf.level = 0.98)
}

set.seed(20261102)
# Warm up (lazy loading, byte compilation of stats functions).
invisible(run(rlnorm(100, log(110), 0.5), rlnorm(100, log(100), 0.5)))

for (n in sizes) {
  baseline <- 100 * exp(rnorm(n, 0, 0.5))
  canary <- 1.1 * 100 * exp(rnorm(n, 0, 0.5))
  p <- plan(n)
  times <- numeric(p$reps)
  for (r in seq_len(p$reps)) {
    t0 <- proc.time()[["elapsed"]]
    for (i in seq_len(p$inner)) res <- run(canary, baseline)
    times[r] <- (proc.time()[["elapsed"]] - t0) / p$inner
  }
  message(sprintf("R n=%d: %d reps x %d calls, min %.4f s, median %.4f s, max %.4f s",
                  n, p$reps, p$inner, min(times), median(times), max(times)))
  cat(sprintf("%d %.6f\n", n, median(times)))
}
