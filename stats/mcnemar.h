// The exact McNemar test of two settings on the same images: among the b + c discordant images,
// b (right under A, wrong under B) is Binomial(b + c, 1/2) when A and B are equally accurate. The
// p-values are the binomial test's (McNemar 1947; the exact form as in Fagerland, Lydersen and
// Laake 2013, "The McNemar test for binary matched-pairs data"), through GSL's binomial CDF.
#pragma once
#include <stddef.h>

typedef struct {
    size_t b, c;        // the discordant counts tested
    double p_two_sided; // min(1, 2 min(P[X <= b], P[X >= b])), X ~ Binomial(b + c, 1/2)
    double p_greater;   // P[X >= b]: small when A is right more often than B
    double p_less;      // P[X <= b]: small when B is right more often than A
} stats_mcnemar;

// The exact test of b against c. b + c = 0 (no discordant image) gives every p-value 1.
// Asserts b + c fits GSL's unsigned int.
void stats_mcnemar_exact(stats_mcnemar *out, size_t b, size_t c);
