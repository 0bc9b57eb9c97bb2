/*
 * Restores the faces of a photo through the LRPO C API, as camera firmware would a frame.
 *
 *   restore [--policy FILE] [--no-gate] [--threads N] MODEL_DIR IN.ppm OUT.ppm
 *
 * IN.ppm is a binary PPM (P6, 8 bits; `ffmpeg -i photo.jpg photo.ppm` makes one). Its pixels are
 * placed in an RGB24 buffer whose rows are padded to 64 bytes, the way ISP buffers often are,
 * restored in place, and written to OUT.ppm. The faces found and the time per stage are
 * printed. Exit status: 0 on success, 1 on any error (with the library's message).
 *
 * Build (x86-64, from the repository root, after `cargo build --release -p lrpo-edge-capi`):
 *
 *   cc -O2 -Iedge/capi/include edge/capi/examples/restore.c target/release/liblrpo.a \
 *      -lpthread -ldl -lm -lgcc_s -o restore
 */
#include "lrpo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads one whitespace-separated header number of a PPM, skipping '#' comments. */
static int ppm_number(FILE *f, unsigned long *out) {
    int c = fgetc(f);
    for (;;) {
        while (c == ' ' || c == '\t' || c == '\n' || c == '\r') c = fgetc(f);
        if (c != '#') break;
        while (c != '\n' && c != EOF) c = fgetc(f);
    }
    if (c < '0' || c > '9') return -1;
    unsigned long v = 0;
    while (c >= '0' && c <= '9') {
        v = v * 10 + (unsigned long)(c - '0');
        if (v > 100000) return -1;
        c = fgetc(f);
    }
    *out = v; /* c is the single whitespace byte that ends the number */
    return 0;
}

/* Reads IN.ppm into a buffer of rows `stride` bytes apart. Returns NULL (and says why) on error. */
static uint8_t *read_ppm(const char *path, uint32_t *w, uint32_t *h, uint32_t *stride) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return NULL;
    }
    unsigned long width, height, maxval;
    char magic[2];
    if (fread(magic, 1, 2, f) != 2 || magic[0] != 'P' || magic[1] != '6' ||
        ppm_number(f, &width) || ppm_number(f, &height) || ppm_number(f, &maxval) ||
        maxval != 255 || width == 0 || height == 0) {
        fprintf(stderr, "%s: not a binary 8-bit PPM (P6, maxval 255)\n", path);
        fclose(f);
        return NULL;
    }
    *w = (uint32_t)width;
    *h = (uint32_t)height;
    *stride = (uint32_t)((3 * width + 63) / 64 * 64);
    uint8_t *buf = calloc((size_t)*stride * height, 1);
    if (!buf) {
        fprintf(stderr, "%s: out of memory\n", path);
        fclose(f);
        return NULL;
    }
    for (unsigned long y = 0; y < height; y++) {
        if (fread(buf + y * *stride, 1, 3 * width, f) != 3 * width) {
            fprintf(stderr, "%s: truncated (row %lu of %lu)\n", path, y, height);
            free(buf);
            fclose(f);
            return NULL;
        }
    }
    fclose(f);
    return buf;
}

static int write_ppm(const char *path, const uint8_t *buf, uint32_t w, uint32_t h, uint32_t stride) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        return -1;
    }
    fprintf(f, "P6\n%u %u\n255\n", w, h);
    for (uint32_t y = 0; y < h; y++) {
        if (fwrite(buf + (size_t)y * stride, 1, 3 * (size_t)w, f) != 3 * (size_t)w) {
            perror(path);
            fclose(f);
            return -1;
        }
    }
    return fclose(f) == 0 ? 0 : -1;
}

static int fail(const char *what, LrpoStatus s) {
    fprintf(stderr, "%s: %s: %s\n", what, lrpo_status_string(s), lrpo_last_error());
    return 1;
}

int main(int argc, char **argv) {
    LrpoOptions options;
    lrpo_options_default(&options);
    int a = 1;
    for (; a < argc && strncmp(argv[a], "--", 2) == 0; a++) {
        if (strcmp(argv[a], "--policy") == 0 && a + 1 < argc) {
            options.policy = argv[++a];
        } else if (strcmp(argv[a], "--no-gate") == 0) {
            options.detail_gate_db = -1.0f;
        } else if (strcmp(argv[a], "--threads") == 0 && a + 1 < argc) {
            options.threads = (uint32_t)strtoul(argv[++a], NULL, 10);
        } else {
            break;
        }
    }
    if (argc - a != 3) {
        fprintf(stderr, "usage: %s [--policy FILE] [--no-gate] [--threads N] MODEL_DIR IN.ppm OUT.ppm\n",
                argv[0]);
        return 2;
    }
    const char *model_dir = argv[a], *in = argv[a + 1], *out = argv[a + 2];

    uint32_t w, h, stride;
    uint8_t *pixels = read_ppm(in, &w, &h, &stride);
    if (!pixels) return 1;

    LrpoRestorer *r = NULL;
    LrpoStatus s = lrpo_open(model_dir, &options, &r);
    if (s != LRPO_STATUS_OK) {
        free(pixels);
        return fail(model_dir, s);
    }
    LrpoFrame frame = {
        .data = pixels, .width = w, .height = h, .stride = stride, .format = LRPO_PIX_RGB24};
    s = lrpo_restore(r, &frame, NULL);
    if (s != LRPO_STATUS_OK) {
        lrpo_close(r);
        free(pixels);
        return fail(in, s);
    }

    uint32_t n = 0;
    lrpo_face_count(r, &n);
    printf("lrpo %s: %s %ux%u, %u face(s)\n", lrpo_version(), in, w, h, n);
    for (uint32_t i = 0; i < n; i++) {
        LrpoFace face;
        if (lrpo_face(r, i, &face) != LRPO_STATUS_OK) continue;
        printf("face %u: box %.0f,%.0f-%.0f,%.0f score %.3f, restored at %u px in %.1f ms\n", i,
               face.bbox[0], face.bbox[1], face.bbox[2], face.bbox[3], face.score, face.crop_side,
               face.restore_ms);
    }
    LrpoTimings t;
    lrpo_timings(r, &t);
    printf("time: %.1f ms (convert %.1f, detect %.1f, restore %.1f, write %.1f); %u kept by the detail gate\n",
           t.total_ms, t.convert_ms, t.detect_ms, t.restore_ms, t.write_ms, t.faces_kept);

    /* A bad call returns an error with a message instead of crashing. */
    LrpoFrame bad = frame;
    bad.stride = 1;
    if (lrpo_restore(r, &bad, NULL) != LRPO_STATUS_INVALID_ARGUMENT) {
        fprintf(stderr, "a stride of 1 byte was not refused\n");
        lrpo_close(r);
        free(pixels);
        return 1;
    }
    printf("refused as expected: %s\n", lrpo_last_error());

    lrpo_close(r);
    int rc = write_ppm(out, pixels, w, h, stride) == 0 ? 0 : 1;
    free(pixels);
    return rc;
}
