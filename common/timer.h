// Monotonic wall-clock time in seconds, for rates, ETAs and benchmarks.
#pragma once

double timer_now(void);
