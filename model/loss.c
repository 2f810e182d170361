// Cross-entropy of logits against integer labels: log-softmax plus negative log-likelihood with
// PyTorch's mean reduction, and its gradient (softmax - onehot) / B.
#include "common/check.h"
#include <math.h>

#include "model/model.h"

float loss_cross_entropy(float *dlogits, const float *logits, const int *y, int B, int K) {
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        const float *z = logits + (size_t)b * K;
        KDT_ASSERT(y[b] >= 0 && y[b] < K);
        double mx = z[0];
        for (int k = 1; k < K; k++)
            if (z[k] > mx) mx = z[k];
        double s = 0.0;
        for (int k = 0; k < K; k++) s += exp((double)z[k] - mx);
        double lse = mx + log(s);
        total += lse - z[y[b]];
        if (dlogits) {
            float *d = dlogits + (size_t)b * K;
            for (int k = 0; k < K; k++)
                d[k] = (float)((exp((double)z[k] - lse) - (k == y[b] ? 1.0 : 0.0)) / B);
        }
    }
    return (float)(total / B);
}
