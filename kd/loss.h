// The KD losses of DESIGN.md section 2 and their gradients with respect to the student's logits.
// Notation: zs, zt student and teacher logits (B, K) row-major; p^T = softmax(z / T).
#pragma once

typedef enum { KD_UNLABELLED = 0, KD_UNLABELLED_SELF, KD_STUDENT_DATA } kd_transfer;

// Soft term T^2 * KL(p_t^T || p_s^T), averaged over the batch (PyTorch's `batchmean`).
// Returns the loss; if dzs is not NULL, adds scale * dL/dzs to it (B, K).
double kd_soft_loss(float *dzs, float scale, const float *zs, const float *zt, int B, int K, float T);

// Cross-entropy CE(y, zs) at T = 1, averaged over the batch. Returns the loss; if dzs is not
// NULL, adds scale * dL/dzs to it.
double kd_hard_loss(float *dzs, float scale, const float *zs, const int *y, int B, int K);

// The loss of one KD step, L = alpha * L_soft + (1 - alpha) * L_anchor, with the anchor of the
// transfer set: `unlabelled` CE(y, zs) with y the teacher's argmax (pseudo-labels);
// `unlabelled_self` T^2 * KL(p_s0^T || p_s^T) with zs0 the frozen pre-KD student's logits;
// `student_data` CE(y, zs) with y the true labels. Writes dL/dzs into dzs (overwritten) and
// returns L; the unused inputs of a transfer set may be NULL.
double kd_loss(float *dzs, const float *zs, const float *zt, const float *zs0, const int *y, int B,
               int K, float T, float alpha, kd_transfer transfer);

// y[b] = argmax_k z[b, k] (the first on ties): the teacher's hard pseudo-labels.
void kd_argmax(int *y, const float *z, int B, int K);
