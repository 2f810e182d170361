// Winograd F(2x2, 3x3) convolution for 3x3 stride-1 layers (winograd.c).
#pragma once
#include <stdbool.h>
#include <stddef.h>

// Workspace of winograd_conv3x3 for these sizes, including room for the transformed weights
// (16 * OC * C floats first), then the transformed tiles of one chunk of images.
size_t winograd_workspace_floats(int B, int C, int OC, int OH, int OW);

// U (16, OC, C) from weight (OC, C, 3, 3); with flip, the weights of the input-gradient
// convolution: U (16, C, OC) from the kernel rotated by 180 degrees, channel axes swapped.
void winograd_transform_weights(float *U, const float *weight, int OC, int C, bool flip);

// out (OC, B, OH, OW) = (or += when accumulate) the 3x3 stride-1 convolution of inp (C, B, H, W)
// with padding pad, given U from winograd_transform_weights. ws: winograd_workspace_floats minus
// the weights' part (U may live at its start).
void winograd_conv3x3(float *out, bool accumulate, float *ws, const float *U, const float *inp,
                      int B, int C, int H, int W, int OC, int pad);
