// The same run over MPI (`mpirun -np N kdtune run|grid|tune ...`, built with KDTUNE_MPI): rank 0
// owns the run directory (lock, store, every file) and hands out work; the other ranks only
// evaluate and write nothing. Work units: single evaluations for the default phase and the grid,
// whole pair-tuning runs for the tuners (the worker drives the tuner: rank 0 sends it the run's
// lines to replay, answers each evaluation from the store or lets it train, and appends what it
// sends back, durably, before it answers).
// Pre-training is shared out too. Every rank runs experiment.threads workers. docs/mpi.md.
//
// Without KDTUNE_MPI (or without mpirun) every call below is a no-op for one process of rank 0.
#pragma once
#include <stdbool.h>

#include "app/pipeline.h"

// Starts MPI when the process was launched by mpirun (MPI_Init_thread); nothing otherwise.
void mpi_run_init(int *argc, char ***argv);
int mpi_run_rank(void);
int mpi_run_size(void);

// Whether the command about to run spreads over the ranks (run, grid and tune do); the others
// run on rank 0 alone while the workers wait.
void mpi_run_allow(bool spreads);
// Several ranks, and a command that spreads over them.
bool mpi_run_active(void);
// Active and not rank 0: a rank that writes no file.
bool mpi_run_is_worker(void);

// A worker rank's whole life: waits for rank 0's config, opens the run as a worker, evaluates
// what rank 0 hands out, and returns the job's exit code.
int mpi_run_worker_main(void);
// Rank 0, at the end of main: releases workers still waiting, ends MPI; returns code.
int mpi_run_finalize(int code);

// Hooks of pipeline.c and setup.c (active only).
// Rank 0: sends the resolved config and the --pairs list (NULL: all) to the workers, which then
// open the run with them.
kdt_status mpi_run_start(const kdt_config *cfg, const char *pairs);
// Every rank: the worst status of all ranks (a failure elsewhere becomes KDT_ERR_STATE with a
// message naming the rank and `what`). A failure ends the workers.
kdt_status mpi_run_agree(kdt_status mine, const char *what);
// Every rank, at the end of opening the run (with its status and threads): agrees, and tells
// rank 0 how many threads each worker runs.
kdt_status mpi_run_opened(kdt_status mine, int threads);
// Every rank: pre-trains the participants shared out over the ranks (those whose checkpoint rank 0
// can load are loaded), sends every participant's weights to every rank, and measures them; rank 0
// writes the checkpoints into checkpoint_dir and pretrain.csv. mine: the caller's status so far.
kdt_status mpi_run_pretrain(kd_federation *f, const char *checkpoint_dir, kdt_status mine);
// A worker's evaluator: trains here, asks rank 0 for everything else.
kdt_status mpi_run_create_evaluator(evaluator **out, setup *s, const kdt_config *cfg, int workers);
// Rank 0: the phases of pipeline_run with the workers, then releases them.
kdt_status mpi_run_pipeline(pipeline *p, const pipeline_phases *ph);
