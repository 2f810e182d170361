// The engine's one GEMM entry: row-major C = alpha * op(A) * op(B) + beta * C through OpenBLAS,
// split by columns of C over the OpenMP threads, each calling a single-threaded OpenBLAS. One
// thread pool (OpenMP) for everything avoids OpenBLAS's own threads and OpenMP's spinning
// threads fighting over the same cores between the GEMMs and the loops around them.
#pragma once
#include <stdbool.h>

// op(A) (M, K), op(B) (K, N), C (M, N); lda, ldb, ldc are the row strides of A, B, C as stored.
void gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A, int lda,
          const float *B, int ldb, float beta, float *C, int ldc);

// The same as one single-threaded OpenBLAS call, for callers that are already parallel.
void gemm_serial(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A,
                 int lda, const float *B, int ldb, float beta, float *C, int ldc);

// Makes OpenBLAS single-threaded (the engine parallelizes around it); called by model_create
// and model_set_threads.
void gemm_init_threads(void);
