// GEMM split by column blocks of C over OpenMP threads, each block one single-threaded OpenBLAS
// call; small products run as one call.
#include "model/gemm.h"

#include <cblas.h>
#include <omp.h>
#include <stdatomic.h>
#include <string.h>

#include "common/log.h"

void gemm_init_threads(void) {
    openblas_set_num_threads(1);
    // OpenBLAS 0.3.21 does not recognize recent Xeons and runs its generic kernels, 3 to 5 times
    // slower; it reads OPENBLAS_CORETYPE when it loads, so all we can do is say so, once
    static atomic_int warned = 0;
    const char *core = openblas_get_corename();
    if (core && strcmp(core, "Prescott") == 0 && __builtin_cpu_supports("avx2") &&
        atomic_exchange(&warned, 1) == 0)
        log_warn("OpenBLAS uses its generic '%s' kernels on this CPU, several times slower than "
                 "it could; set OPENBLAS_CORETYPE=%s in the environment", core,
                 __builtin_cpu_supports("avx512f") ? "SkylakeX" : "Haswell");
}

void gemm_serial(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A,
                 int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A, int lda,
          const float *B, int ldb, float beta, float *C, int ldc) {
    enum CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
    int T = omp_in_parallel() ? 1 : omp_get_max_threads();
    bool split_n = N >= 32 * T, split_m = !split_n && M >= 8 * T;
    // below ~1 M multiply-adds, or too thin to split, threads cost more than they save
    if (T <= 1 || (double)M * N * K < 1e6 || (!split_n && !split_m)) {
        cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
#pragma omp parallel num_threads(T)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        if (split_n) {
            // column blocks rounded to 16 floats (a cache line): threads never share a line of C
            int per = ((N + nt - 1) / nt + 15) / 16 * 16;
            int n0 = t * per, n1 = n0 + per < N ? n0 + per : N;
            if (n0 < n1) {
                // op(B)'s columns n0..n1: B + n0 when stored (K, N), rows n0..n1 when stored (N, K)
                const float *Bt = trans_b ? B + (size_t)n0 * ldb : B + n0;
                cblas_sgemm(CblasRowMajor, ta, tb, M, n1 - n0, K, alpha, A, lda, Bt, ldb, beta,
                            C + n0, ldc);
            }
        } else {
            // few columns (a weight gradient with a small fan-in): split the rows instead
            int per = (M + nt - 1) / nt;
            int m0 = t * per, m1 = m0 + per < M ? m0 + per : M;
            if (m0 < m1) {
                // op(A)'s rows m0..m1: rows of A when stored (M, K), columns when stored (K, M)
                const float *At = trans_a ? A + m0 : A + (size_t)m0 * lda;
                cblas_sgemm(CblasRowMajor, ta, tb, m1 - m0, N, K, alpha, At, lda, B, ldb, beta,
                            C + (size_t)m0 * ldc, ldc);
            }
        }
    }
}
