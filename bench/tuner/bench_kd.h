// The KD mode of bench_tuner (bench_kd.c): strategies on the default grid's table.
#pragma once

// bench_tuner kd [--seeds N] [--table FILE] [strategy names...]
int bench_kd_main(int argc, char **argv);
