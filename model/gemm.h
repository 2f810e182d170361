// The engine's one GEMM entry: row-major C = alpha * op(A) * op(B) + beta * C through OpenBLAS,
// split into blocks of columns or rows of C that the OpenMP threads share, each block one
// single-threaded OpenBLAS call. The blocks depend on (M, N, K) only, so results are bit-identical
// at any thread count, and inside a parallel region (one thread) too. One thread pool (OpenMP) for
// everything avoids OpenBLAS's own threads and OpenMP's spinning threads fighting over the same
// cores between the GEMMs and the loops around them.
#pragma once
#include <stdbool.h>

// op(A) (M, K), op(B) (K, N), C (M, N); lda, ldb, ldc are the row strides of A, B, C as stored.
void gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A, int lda,
          const float *B, int ldb, float beta, float *C, int ldc);

// The same as one single-threaded OpenBLAS call, for callers that are already parallel.
void gemm_serial(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A,
                 int lda, const float *B, int ldb, float beta, float *C, int ldc);

// How gemm cuts C for a shape: `blocks` blocks of `per` rows (by_rows) or columns, the last one
// shorter; a function of (M, N, K) only. Exposed for the tests.
typedef struct {
    bool by_rows;
    int blocks, per;
} gemm_plan;
gemm_plan gemm_plan_of(int M, int N, int K);

// Makes OpenBLAS single-threaded (the engine parallelizes around it); called by model_create
// and model_set_threads.
void gemm_init_threads(void);
