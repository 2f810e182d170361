// The batch iterator and the augmentation of one image.
#include "data/batcher.h"

#include "common/check.h"
#include <stdlib.h>
#include <string.h>

struct batcher {
    const dataset *d;
    int n, batch_size, pos, last; // last: where the last batch began in order
    int *order;   // (n) dataset indices, in this epoch's order
    int *subset;  // (n) as given
    augment_spec aug;
    bool augmenting;
    rng aug_rng;
};

batcher *batcher_create(const dataset *d, const int *indices, int n, int batch_size,
                        const augment_spec *aug) {
    KDT_ASSERT(n >= 0 && batch_size > 0);
    batcher *b = calloc(1, sizeof *b);
    if (b) {
        b->order = malloc((size_t)(n ? n : 1) * sizeof *b->order);
        b->subset = malloc((size_t)(n ? n : 1) * sizeof *b->subset);
    }
    if (!b || !b->order || !b->subset) {
        batcher_destroy(b);
        kdt_fail(KDT_ERR_NOMEM, "out of memory for a batcher over %d examples", n);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        b->subset[i] = indices ? indices[i] : i;
        KDT_ASSERT(b->subset[i] >= 0 && b->subset[i] < d->n);
    }
    memcpy(b->order, b->subset, (size_t)n * sizeof *b->order);
    b->d = d;
    b->n = n;
    b->batch_size = batch_size;
    if (aug) b->aug = *aug;
    return b;
}

void batcher_destroy(batcher *b) {
    if (!b) return;
    free(b->order);
    free(b->subset);
    free(b);
}

void batcher_epoch(batcher *b, rng *r) {
    memcpy(b->order, b->subset, (size_t)b->n * sizeof *b->order);
    b->pos = 0;
    b->last = 0;
    b->augmenting = false;
    if (!r) return;
    rng_shuffle(r, b->order, (size_t)b->n);
    b->aug_rng = rng_split(r, 0xA467);
    b->augmenting = (b->aug.crop && b->aug.crop_padding > 0) || b->aug.flip;
}

void augment_image(float *out, const float *img, int c, int h, int w, int dy, int dx, bool flip) {
    KDT_ASSERT(out != img);
    for (int ch = 0; ch < c; ch++)
        for (int y = 0; y < h; y++) {
            float *row = out + ((size_t)ch * h + y) * w;
            int sy = y + dy;
            if (sy < 0 || sy >= h) {
                memset(row, 0, (size_t)w * sizeof *row);
                continue;
            }
            const float *src = img + ((size_t)ch * h + sy) * w;
            for (int x = 0; x < w; x++) {
                int sx = (flip ? w - 1 - x : x) + dx;
                row[x] = (sx >= 0 && sx < w) ? src[sx] : 0.0f;
            }
        }
}

int batcher_next(batcher *b, float *x, int *y) {
    int m = b->n - b->pos;
    if (m > b->batch_size) m = b->batch_size;
    if (m < 0) m = 0;
    const dataset *d = b->d;
    size_t e = (size_t)dataset_example_size(d);
    int pad = b->aug.crop ? b->aug.crop_padding : 0;
    for (int i = 0; i < m; i++) {
        int k = b->order[b->pos + i];
        const float *img = d->x + (size_t)k * e;
        if (b->augmenting) {
            int dy = 0, dx = 0;
            if (pad > 0) {
                dy = (int)rng_below(&b->aug_rng, (uint64_t)(2 * pad + 1)) - pad;
                dx = (int)rng_below(&b->aug_rng, (uint64_t)(2 * pad + 1)) - pad;
            }
            bool flip = b->aug.flip && (rng_next(&b->aug_rng) >> 63);
            augment_image(x + (size_t)i * e, img, d->c, d->h, d->w, dy, dx, flip);
        } else {
            memcpy(x + (size_t)i * e, img, e * sizeof *x);
        }
        y[i] = d->y[k];
    }
    b->last = b->pos;
    b->pos += m;
    return m;
}

const int *batcher_batch_indices(const batcher *b) { return b->order + b->last; }

int batcher_size(const batcher *b) { return b->n; }

int batcher_batches(const batcher *b) { return (b->n + b->batch_size - 1) / b->batch_size; }
