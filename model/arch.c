// The architectures: mlp, cnn, the CIFAR ResNets of He et al. 2016 (resnet8, resnet20: 16-32-64
// channels, option-A zero-padding shortcuts) and the CIFAR ResNet-18 (3x3 stem, no max-pool,
// 1x1-conv + BN projection shortcuts). Tensor names follow the PyTorch state_dict of the usual
// reference code (akamaster/pytorch_resnet_cifar10, kuangliu/pytorch-cifar), so checkpoints and
// reference fixtures line up name by name.
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "model/model_impl.h"
#include "model/ops.h"

static int add_conv(model *m, const char *name, int in, int OC, int k, int stride, int pad,
                    bool bias, bool relu) {
    act_desc a = m->acts[in];
    char buf[64];
    layer l = {.kind = LAYER_CONV, .in = in, .in2 = -1, .relu = relu, .C = a.C, .H = a.H, .W = a.W,
               .OC = OC, .OH = conv_out_size(a.H, k, stride, pad),
               .OW = conv_out_size(a.W, k, stride, pad), .k = k, .stride = stride, .pad = pad,
               .bias = -1, .rmean = -1, .rvar = -1};
    int wshape[4] = {OC, a.C, k, k}, fan_in = a.C * k * k;
    snprintf(buf, sizeof buf, "%s.weight", name);
    l.weight = model_add_named(m, buf, 4, wshape, false, fan_in, false);
    if (bias) {
        snprintf(buf, sizeof buf, "%s.bias", name);
        l.bias = model_add_named(m, buf, 1, &OC, false, fan_in, false);
    }
    l.out = model_add_act(m, OC, l.OH, l.OW);
    model_add_layer(m, &l);
    return l.out;
}

static int add_bn(model *m, const char *name, int in, bool relu) {
    act_desc a = m->acts[in];
    char buf[64];
    layer l = {.kind = LAYER_BN, .in = in, .in2 = -1, .relu = relu, .C = a.C, .H = a.H, .W = a.W,
               .OC = a.C, .OH = a.H, .OW = a.W};
    snprintf(buf, sizeof buf, "%s.weight", name);
    l.weight = model_add_named(m, buf, 1, &a.C, false, 0, true);
    snprintf(buf, sizeof buf, "%s.bias", name);
    l.bias = model_add_named(m, buf, 1, &a.C, false, 0, false);
    snprintf(buf, sizeof buf, "%s.running_mean", name);
    l.rmean = model_add_named(m, buf, 1, &a.C, true, 0, false);
    snprintf(buf, sizeof buf, "%s.running_var", name);
    l.rvar = model_add_named(m, buf, 1, &a.C, true, 0, true);
    l.stats = m->n_stats;
    m->n_stats += 2 * (size_t)a.C;
    l.out = model_add_act(m, a.C, a.H, a.W);
    model_add_layer(m, &l);
    return l.out;
}

static int add_linear(model *m, const char *name, int in, int K, bool relu) {
    act_desc a = m->acts[in];
    int F = a.C * a.H * a.W;
    char buf[64];
    layer l = {.kind = LAYER_LINEAR, .in = in, .in2 = -1, .relu = relu, .C = F, .H = 1, .W = 1,
               .OC = K, .OH = 1, .OW = 1, .rmean = -1, .rvar = -1};
    int wshape[2] = {K, F};
    snprintf(buf, sizeof buf, "%s.weight", name);
    l.weight = model_add_named(m, buf, 2, wshape, false, F, false);
    snprintf(buf, sizeof buf, "%s.bias", name);
    l.bias = model_add_named(m, buf, 1, &K, false, F, false);
    l.out = model_add_act(m, K, 1, 1);
    model_add_layer(m, &l);
    return l.out;
}

static int add_simple(model *m, layer_kind kind, int in, int in2, int OC, int OH, int OW, int k,
                      int stride, bool relu) {
    act_desc a = m->acts[in];
    layer l = {.kind = kind, .in = in, .in2 = in2, .relu = relu, .C = a.C, .H = a.H, .W = a.W,
               .OC = OC, .OH = OH, .OW = OW, .k = k, .stride = stride, .weight = -1, .bias = -1,
               .rmean = -1, .rvar = -1};
    l.out = model_add_act(m, OC, OH, OW);
    model_add_layer(m, &l);
    return l.out;
}

static int add_maxpool(model *m, int in, int k) {
    act_desc a = m->acts[in];
    return add_simple(m, LAYER_MAXPOOL, in, -1, a.C, conv_out_size(a.H, k, k, 0),
                      conv_out_size(a.W, k, k, 0), k, k, false);
}

static int add_gap(model *m, int in) {
    return add_simple(m, LAYER_GAP, in, -1, m->acts[in].C, 1, 1, 0, 1, false);
}

static int add_flatten(model *m, int in) {
    act_desc a = m->acts[in];
    return add_simple(m, LAYER_FLATTEN, in, -1, a.C * a.H * a.W, 1, 1, 0, 1, false);
}

static int add_residual(model *m, int a, int b) {
    act_desc d = m->acts[a];
    return add_simple(m, LAYER_ADD, a, b, d.C, d.H, d.W, 0, 1, true);
}

// One basic block: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)).
static int basic_block(model *m, const char *name, int x, int planes, int stride, bool option_a) {
    char buf[64];
    act_desc a = m->acts[x];
    snprintf(buf, sizeof buf, "%s.conv1", name);
    int h = add_conv(m, buf, x, planes, 3, stride, 1, false, false);
    snprintf(buf, sizeof buf, "%s.bn1", name);
    h = add_bn(m, buf, h, true);
    snprintf(buf, sizeof buf, "%s.conv2", name);
    h = add_conv(m, buf, h, planes, 3, 1, 1, false, false);
    snprintf(buf, sizeof buf, "%s.bn2", name);
    h = add_bn(m, buf, h, false);
    int s = x;
    if (stride != 1 || a.C != planes) {
        if (option_a) {
            act_desc o = m->acts[h];
            s = add_simple(m, LAYER_SHORTCUT_PAD, x, -1, planes, o.H, o.W, 0, stride, false);
        } else {
            snprintf(buf, sizeof buf, "%s.shortcut.0", name);
            s = add_conv(m, buf, x, planes, 1, stride, 0, false, false);
            snprintf(buf, sizeof buf, "%s.shortcut.1", name);
            s = add_bn(m, buf, s, false);
        }
    }
    return add_residual(m, h, s);
}

static int resnet(model *m, int x, const int *planes, const int *blocks, int stages, bool option_a) {
    int h = add_conv(m, "conv1", x, planes[0], 3, 1, 1, false, false);
    h = add_bn(m, "bn1", h, true);
    for (int s = 0; s < stages; s++) {
        for (int b = 0; b < blocks[s]; b++) {
            char name[32];
            snprintf(name, sizeof name, "layer%d.%d", s + 1, b);
            h = basic_block(m, name, h, planes[s], (b == 0 && s > 0) ? 2 : 1, option_a);
        }
    }
    h = add_gap(m, h);
    return add_linear(m, "linear", h, m->spec.num_classes, false);
}

bool model_build_arch(model *m) {
    const model_spec *s = &m->spec;
    int x = model_add_act(m, s->in_c, s->in_h, s->in_w);
    switch (s->arch) {
    case MODEL_MLP: {
        int h = add_flatten(m, x);
        for (int i = 0; i < s->num_hidden; i++) {
            char name[16];
            snprintf(name, sizeof name, "fc%d", i + 1);
            h = add_linear(m, name, h, s->hidden[i], true);
        }
        char name[16];
        snprintf(name, sizeof name, "fc%d", s->num_hidden + 1);
        m->output = add_linear(m, name, h, s->num_classes, false);
        break;
    }
    case MODEL_CNN: {
        int h = add_conv(m, "conv1", x, 32, 3, 1, 1, true, true);
        h = add_maxpool(m, h, 2);
        h = add_conv(m, "conv2", h, 64, 3, 1, 1, true, true);
        h = add_maxpool(m, h, 2);
        h = add_flatten(m, h);
        h = add_linear(m, "fc1", h, 128, true);
        m->output = add_linear(m, "fc2", h, s->num_classes, false);
        break;
    }
    case MODEL_RESNET8:
    case MODEL_RESNET20: {
        int n = s->arch == MODEL_RESNET8 ? 1 : 3;
        int planes[3] = {16, 32, 64}, blocks[3] = {n, n, n};
        m->output = resnet(m, x, planes, blocks, 3, true);
        break;
    }
    case MODEL_RESNET18: {
        int planes[4] = {64, 128, 256, 512}, blocks[4] = {2, 2, 2, 2};
        m->output = resnet(m, x, planes, blocks, 4, false);
        break;
    }
    default:
        kdt_fail(KDT_ERR_CONFIG, "unknown architecture %d", (int)s->arch);
        return false;
    }
    return true;
}
