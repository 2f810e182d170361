// GEMM split into column or row blocks whose number and bounds depend on the problem's shape only,
// never on the thread count: each block is one single-threaded OpenBLAS call with the same
// arguments whichever thread runs it, so the result is bit-identical at any thread count (a
// block's bits depend on its shape: OpenBLAS's edge and small-matrix kernels round differently).
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

// The blocks: at most GEMM_MAX_BLOCKS, a power of two (even shares for 2, 4, 8, 16 threads), each
// at least BLOCK_MIN_WORK multiply-adds; BLOCK_MIN_EXTENT wide along the split axis, because every
// block packs the whole shared operand again (A when splitting columns, B when splitting rows)
// and amortizes that over its extent, except that a thin product still gets two blocks.
enum { GEMM_MAX_BLOCKS = 16, BLOCK_MIN_EXTENT = 128, THIN_MIN_EXTENT = 32 };
static const double BLOCK_MIN_WORK = 524288.0;

gemm_plan gemm_plan_of(int M, int N, int K) {
    // split the longer side: the operand all blocks share is then the smaller one
    gemm_plan p = {.by_rows = M > N, .blocks = 1, .per = M > N ? M : N};
    int dim = p.per, align = p.by_rows ? 8 : 16; // column blocks: whole cache lines of C
    double work = (double)M * N * K;
    int c = 1;
    while (2 * c <= GEMM_MAX_BLOCKS && dim / (2 * c) >= BLOCK_MIN_EXTENT &&
           work / (2 * c) >= BLOCK_MIN_WORK)
        c *= 2;
    if (c == 1 && dim >= 2 * THIN_MIN_EXTENT && work >= 2 * BLOCK_MIN_WORK) c = 2;
    if (c > 1) {
        p.per = ((dim + c - 1) / c + align - 1) / align * align;
        p.blocks = (dim + p.per - 1) / p.per;
    }
    return p;
}

// Block i of the plan: rows (by_rows) or columns [i * per, min((i + 1) * per, dim)).
static void gemm_block(const gemm_plan *p, int i, bool trans_a, bool trans_b, int M, int N, int K,
                       float alpha, const float *A, int lda, const float *B, int ldb, float beta,
                       float *C, int ldc) {
    if (p->blocks == 1) {
        gemm_serial(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    int lo = i * p->per, dim = p->by_rows ? M : N, hi = lo + p->per < dim ? lo + p->per : dim;
    if (p->by_rows) {
        // op(A)'s rows lo..hi: rows of A when stored (M, K), columns when stored (K, M)
        const float *At = trans_a ? A + lo : A + (size_t)lo * lda;
        gemm_serial(trans_a, trans_b, hi - lo, N, K, alpha, At, lda, B, ldb, beta,
                    C + (size_t)lo * ldc, ldc);
    } else {
        // op(B)'s columns lo..hi: B + lo when stored (K, N), rows lo..hi when stored (N, K)
        const float *Bt = trans_b ? B + (size_t)lo * ldb : B + lo;
        gemm_serial(trans_a, trans_b, M, hi - lo, K, alpha, A, lda, Bt, ldb, beta, C + lo, ldc);
    }
}

void gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A, int lda,
          const float *B, int ldb, float beta, float *C, int ldc) {
    gemm_plan p = gemm_plan_of(M, N, K);
    if (p.blocks == 1 || omp_in_parallel() || omp_get_max_threads() == 1) {
        // one thread: the same blocks in turn
        for (int i = 0; i < p.blocks; i++)
            gemm_block(&p, i, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    int T = omp_get_max_threads() < p.blocks ? omp_get_max_threads() : p.blocks;
#pragma omp parallel for schedule(static) num_threads(T)
    for (int i = 0; i < p.blocks; i++)
        gemm_block(&p, i, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
