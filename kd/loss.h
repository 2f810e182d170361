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

// Deep mutual learning (DML): the loss of ONE of the two participants, zs its current logits and
// zpeer the other's current logits on the same batch, treated as a constant target (no gradient
// flows into the peer through this term; the peer's own loss is this function with the roles
// swapped). L = alpha * T^2 KL(p_peer^T || p_s^T) + (1 - alpha) * L_anchor, with the anchor of
// kd_loss (zs0: this participant's own frozen pre-KD logits; y: its pseudo- or true labels).
// Writes dL/dzs into dzs (overwritten) and returns L.
double kd_dml_loss(float *dzs, const float *zs, const float *zpeer, const float *zs0, const int *y,
                   int B, int K, float T, float alpha, kd_transfer transfer);

// Data-partitioning KD (DP-KD) routing: route[b] = 1 when the teacher is more confident than the
// frozen pre-KD student on its own predicted class, max_k softmax(zt[b])_k > max_k
// softmax(zs0[b])_k at T = 1 (compared exactly in double), else 0 (ties go to the frozen student).
// Returns the number of rows routed to the teacher.
int kd_dpkd_route(unsigned char *route, const float *zt, const float *zs0, int B, int K);

// The DP-KD loss: row b's soft target is the routed model's logits, zr[b] = route[b] ? zt[b] :
// zs0[b], and L = alpha * T^2 KL(p_r^T || p_s^T) + (1 - alpha) * L_anchor, with the anchor of
// the transfer set: `unlabelled` CE(argmax zr[b], zs) (the routed model's hard pseudo-label);
// `unlabelled_self` T^2 KL(p_s0^T || p_s^T); `student_data` CE(y, zs). zr (B, K) and yr (B) are
// the caller's scratch and receive the routed logits and labels (yr: the routed pseudo-labels
// for `unlabelled`, a copy of y otherwise). Writes dL/dzs into dzs (overwritten) and returns L.
double kd_dpkd_loss(float *dzs, float *zr, int *yr, const float *zs, const float *zt,
                    const float *zs0, const unsigned char *route, const int *y, int B, int K,
                    float T, float alpha, kd_transfer transfer);

// y[b] = argmax_k z[b, k] (the first on ties): the teacher's hard pseudo-labels.
void kd_argmax(int *y, const float *z, int B, int K);
