// KD losses. Each row is handled in double with the max subtracted, so large logits and small
// temperatures neither overflow nor lose the KL's small differences.
#include "kd/loss.h"

#include "common/check.h"
#include <math.h>
#include <string.h>

// log_softmax(z / T) of one row into out (K).
static void row_log_softmax(double *out, const float *z, int K, double T) {
    double m = -INFINITY;
    for (int k = 0; k < K; k++) m = fmax(m, (double)z[k] / T);
    double s = 0.0;
    for (int k = 0; k < K; k++) s += exp((double)z[k] / T - m);
    double lse = m + log(s);
    for (int k = 0; k < K; k++) out[k] = (double)z[k] / T - lse;
}

enum { KD_MAX_CLASSES = 1024 };

double kd_soft_loss(float *dzs, float scale, const float *zs, const float *zt, int B, int K, float T) {
    KDT_ASSERT(K <= KD_MAX_CLASSES && T > 0.0f && B > 0);
    double lq[KD_MAX_CLASSES], lp[KD_MAX_CLASSES], total = 0.0;
    const double t = T;
    for (int b = 0; b < B; b++) {
        row_log_softmax(lq, zs + (size_t)b * K, K, t);
        row_log_softmax(lp, zt + (size_t)b * K, K, t);
        double kl = 0.0;
        for (int k = 0; k < K; k++) {
            double p = exp(lp[k]);
            if (p > 0.0) kl += p * (lp[k] - lq[k]);
            // d/dzs of T^2 * KL / B = T * (q - p) / B
            if (dzs) dzs[(size_t)b * K + k] += (float)(scale * t * (exp(lq[k]) - p) / B);
        }
        total += kl;
    }
    return t * t * total / B;
}

double kd_hard_loss(float *dzs, float scale, const float *zs, const int *y, int B, int K) {
    KDT_ASSERT(K <= KD_MAX_CLASSES && B > 0);
    double lq[KD_MAX_CLASSES], total = 0.0;
    for (int b = 0; b < B; b++) {
        KDT_ASSERT(y[b] >= 0 && y[b] < K);
        row_log_softmax(lq, zs + (size_t)b * K, K, 1.0);
        total -= lq[y[b]];
        if (dzs)
            for (int k = 0; k < K; k++)
                dzs[(size_t)b * K + k] += (float)(scale * (exp(lq[k]) - (k == y[b])) / B);
    }
    return total / B;
}

double kd_loss(float *dzs, const float *zs, const float *zt, const float *zs0, const int *y, int B,
               int K, float T, float alpha, kd_transfer transfer) {
    memset(dzs, 0, (size_t)B * K * sizeof *dzs);
    double loss = 0.0;
    if (alpha > 0.0f) loss += alpha * kd_soft_loss(dzs, alpha, zs, zt, B, K, T);
    float beta = 1.0f - alpha;
    if (beta > 0.0f) {
        if (transfer == KD_UNLABELLED_SELF) {
            KDT_ASSERT(zs0);
            loss += beta * kd_soft_loss(dzs, beta, zs, zs0, B, K, T);
        } else {
            KDT_ASSERT(y); // teacher pseudo-labels (unlabelled) or true labels (student_data)
            loss += beta * kd_hard_loss(dzs, beta, zs, y, B, K);
        }
    }
    return loss;
}

double kd_dml_loss(float *dzs, const float *zs, const float *zpeer, const float *zs0, const int *y,
                   int B, int K, float T, float alpha, kd_transfer transfer) {
    // The peer's current predictions play the teacher's part; they are a constant of this loss.
    return kd_loss(dzs, zs, zpeer, zs0, y, B, K, T, alpha, transfer);
}

// 1 / max_k softmax(z)_k = sum_k exp(z_k - max z): a larger sum is a less confident row.
static double row_inverse_confidence(const float *z, int K) {
    double m = -INFINITY, s = 0.0;
    for (int k = 0; k < K; k++) m = fmax(m, (double)z[k]);
    for (int k = 0; k < K; k++) s += exp((double)z[k] - m);
    return s;
}

int kd_dpkd_route(unsigned char *route, const float *zt, const float *zs0, int B, int K) {
    int n = 0;
    for (int b = 0; b < B; b++) {
        double st = row_inverse_confidence(zt + (size_t)b * K, K);
        double ss = row_inverse_confidence(zs0 + (size_t)b * K, K);
        route[b] = st < ss; // strictly more confident: ties stay with the frozen student
        n += route[b];
    }
    return n;
}

double kd_dpkd_loss(float *dzs, float *zr, int *yr, const float *zs, const float *zt,
                    const float *zs0, const unsigned char *route, const int *y, int B, int K,
                    float T, float alpha, kd_transfer transfer) {
    KDT_ASSERT(zt && zs0 && route);
    for (int b = 0; b < B; b++)
        memcpy(zr + (size_t)b * K, (route[b] ? zt : zs0) + (size_t)b * K, sizeof *zr * K);
    if (transfer == KD_UNLABELLED) kd_argmax(yr, zr, B, K);
    else if (transfer == KD_STUDENT_DATA) memcpy(yr, y, sizeof *yr * B);
    return kd_loss(dzs, zs, zr, zs0, yr, B, K, T, alpha, transfer);
}

void kd_argmax(int *y, const float *z, int B, int K) {
    for (int b = 0; b < B; b++) {
        const float *row = z + (size_t)b * K;
        int best = 0;
        for (int k = 1; k < K; k++)
            if (row[k] > row[best]) best = k;
        y[b] = best;
    }
}
