// The batcher: every example of the subset once per epoch, a short last batch, reshuffles that
// are deterministic given the rng, batch indices that match the copied examples, and
// augmentation (crop after zero padding, flip) equal to its definition.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "data/batcher.h"

enum { C = 2, H = 3, W = 4, E = C * H * W };

// Example i has pixel values 1000 * i + position (never 0) and label i mod 7.
static dataset *make_data(int n) {
    dataset *d = dataset_create(n, C, H, W, 7);
    for (int i = 0; i < n; i++) {
        d->y[i] = i % 7;
        for (int j = 0; j < E; j++) d->x[i * E + j] = (float)(1000 * i + j + 1);
    }
    return d;
}

// One epoch: checks each example against its index and returns the order in `seen_order`.
static int run_epoch(batcher *b, const dataset *d, int batch, int *seen_order, bool exact) {
    float x[8 * E];
    int y[8], total = 0, m, batches = 0;
    while ((m = batcher_next(b, x, y)) > 0) {
        assert_true(m <= batch);
        const int *idx = batcher_batch_indices(b);
        for (int i = 0; i < m; i++) {
            assert_int_equal(y[i], d->y[idx[i]]);
            if (exact) assert_memory_equal(x + i * E, d->x + idx[i] * E, E * sizeof(float));
            seen_order[total + i] = idx[i];
        }
        total += m;
        batches++;
    }
    assert_int_equal(batches, batcher_batches(b));
    assert_int_equal(batcher_next(b, x, y), 0);
    return total;
}

static void epochs_cover_the_subset(void **state) {
    (void)state;
    dataset *d = make_data(23);
    int subset[17];
    for (int i = 0; i < 17; i++) subset[i] = (i * 5) % 23; // distinct: 5 is invertible mod 23
    batcher *b = batcher_create(d, subset, 17, 5, NULL);
    assert_int_equal(batcher_size(b), 17);
    assert_int_equal(batcher_batches(b), 4);
    int order[17], first[17], again[17];
    // before any epoch: the subset's order
    assert_int_equal(run_epoch(b, d, 5, order, true), 17);
    assert_memory_equal(order, subset, sizeof order);
    rng r1 = rng_stream(3, "batches", 0, 0), r2 = r1;
    batcher_epoch(b, &r1);
    assert_int_equal(run_epoch(b, d, 5, first, true), 17);
    assert_memory_not_equal(first, subset, sizeof first);
    int seen[23] = {0};
    for (int i = 0; i < 17; i++) seen[first[i]]++;
    for (int i = 0; i < 17; i++) assert_int_equal(seen[subset[i]], 1);
    batcher_epoch(b, &r1); // a new order
    run_epoch(b, d, 5, again, true);
    assert_memory_not_equal(again, first, sizeof again);
    // the same rng gives the same epoch, from another batcher too
    batcher *b2 = batcher_create(d, subset, 17, 5, NULL);
    batcher_epoch(b2, &r2);
    run_epoch(b2, d, 5, order, true);
    assert_memory_equal(order, first, sizeof order);
    batcher_epoch(b2, NULL); // evaluation order
    run_epoch(b2, d, 5, order, true);
    assert_memory_equal(order, subset, sizeof order);
    batcher_destroy(b2);
    batcher_destroy(b);
    // all of d, batch larger than the data, and an empty subset
    b = batcher_create(d, NULL, 23, 8, NULL);
    int all[23];
    assert_int_equal(run_epoch(b, d, 8, all, true), 23);
    for (int i = 0; i < 23; i++) assert_int_equal(all[i], i);
    batcher_destroy(b);
    b = batcher_create(d, subset, 0, 4, NULL);
    float x[E];
    int y[1];
    assert_int_equal(batcher_next(b, x, y), 0);
    batcher_destroy(b);
    dataset_destroy(d);
}

// The definition: crop the zero-padded image at offset (dy, dx), then mirror.
static float reference_pixel(const float *img, int ch, int y, int x, int dy, int dx, bool flip) {
    int sx = (flip ? W - 1 - x : x) + dx, sy = y + dy;
    if (sy < 0 || sy >= H || sx < 0 || sx >= W) return 0.0f;
    return img[(ch * H + sy) * W + sx];
}

static bool matches(const float *out, const float *img, int dy, int dx, bool flip) {
    for (int ch = 0; ch < C; ch++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                if (out[(ch * H + y) * W + x] != reference_pixel(img, ch, y, x, dy, dx, flip)) return false;
    return true;
}

static void augment_image_is_crop_then_flip(void **state) {
    (void)state;
    dataset *d = make_data(1);
    float out[E];
    for (int dy = -2; dy <= 2; dy++)
        for (int dx = -2; dx <= 2; dx++)
            for (int f = 0; f <= 1; f++) {
                augment_image(out, d->x, C, H, W, dy, dx, f);
                assert_true(matches(out, d->x, dy, dx, f));
            }
    augment_image(out, d->x, C, H, W, 0, 0, true);
    assert_float_equal(out[0], d->x[W - 1], 0); // top-left is the old top-right
    dataset_destroy(d);
}

static void augmented_batches(void **state) {
    (void)state;
    dataset *d = make_data(40);
    augment_spec aug = {.crop = true, .crop_padding = 1, .flip = true};
    batcher *b = batcher_create(d, NULL, 40, 8, &aug), *b2 = batcher_create(d, NULL, 40, 8, &aug);
    rng r = rng_stream(9, "aug", 0, 0), r2 = r;
    batcher_epoch(b, &r);
    batcher_epoch(b2, &r2);
    float x[8 * E], x2[8 * E];
    int y[8], y2[8], m, flips = 0, shifts = 0, n = 0;
    while ((m = batcher_next(b, x, y)) > 0) {
        assert_int_equal(batcher_next(b2, x2, y2), m);
        assert_memory_equal(x, x2, (size_t)m * E * sizeof(float)); // deterministic given the rng
        const int *idx = batcher_batch_indices(b);
        for (int i = 0; i < m; i++) {
            const float *img = d->x + idx[i] * E;
            bool found = false;
            for (int dy = -1; dy <= 1 && !found; dy++)
                for (int dx = -1; dx <= 1 && !found; dx++)
                    for (int f = 0; f <= 1 && !found; f++)
                        if (matches(x + i * E, img, dy, dx, f)) {
                            found = true;
                            flips += f;
                            shifts += dy != 0 || dx != 0;
                        }
            assert_true(found);
            n++;
        }
    }
    assert_int_equal(n, 40);
    assert_in_range(flips, 8, 32);   // about half
    assert_in_range(shifts, 20, 40); // about 8 in 9
    // switched off: exact copies
    augment_spec none = {.crop = false, .crop_padding = 4, .flip = false};
    batcher *b3 = batcher_create(d, NULL, 40, 8, &none);
    batcher_epoch(b3, &r);
    int order[40];
    run_epoch(b3, d, 8, order, true);
    batcher_destroy(b3);
    batcher_destroy(b2);
    batcher_destroy(b);
    dataset_destroy(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(epochs_cover_the_subset),
        cmocka_unit_test(augment_image_is_crop_then_flip),
        cmocka_unit_test(augmented_batches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
