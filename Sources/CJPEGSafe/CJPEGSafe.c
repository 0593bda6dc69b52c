// CJPEGSafe: the one place a JPEG error longjmps, so libjpeg never returns from error_exit.
#include "CJPEGSafe.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

struct safe_error_manager {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
};

static void safe_error_exit(j_common_ptr cinfo) {
    struct safe_error_manager *manager = (struct safe_error_manager *)cinfo->err;
    longjmp(manager->jump, 1);
}

static void silent_output_message(j_common_ptr cinfo) {
    (void)cinfo; // warnings (e.g. corrupt entropy data) are not printed to stderr
}

int peftlab_jpeg_decode_rgb(const uint8_t *data, size_t size,
                            size_t max_pixels, uint8_t **pixels, int *width, int *height,
                            char *message, size_t message_capacity) {
    struct jpeg_decompress_struct cinfo;
    struct safe_error_manager error;
    uint8_t *volatile buffer = NULL;

    *pixels = NULL;
    *width = 0;
    *height = 0;
    if (message_capacity > 0) message[0] = 0;
    if (size == 0) {
        snprintf(message, message_capacity, "empty data");
        return 1;
    }

    cinfo.err = jpeg_std_error(&error.pub);
    error.pub.error_exit = safe_error_exit;
    error.pub.output_message = silent_output_message;
    if (setjmp(error.jump)) {
        char text[JMSG_LENGTH_MAX];
        (*cinfo.err->format_message)((j_common_ptr)&cinfo, text);
        snprintf(message, message_capacity, "%s", text);
        jpeg_destroy_decompress(&cinfo);
        free(buffer);
        return 1;
    }

    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, (const unsigned char *)data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    if ((uint64_t)cinfo.image_width * cinfo.image_height > (uint64_t)max_pixels) {
        snprintf(message, message_capacity, "the image is %u x %u pixels, more than the %zu pixels allowed",
                 (unsigned)cinfo.image_width, (unsigned)cinfo.image_height, max_pixels);
        jpeg_destroy_decompress(&cinfo);
        return 3;
    }
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);

    size_t stride = (size_t)cinfo.output_width * 3;
    buffer = (uint8_t *)malloc(stride * cinfo.output_height);
    if (buffer == NULL) {
        snprintf(message, message_capacity, "out of memory");
        jpeg_destroy_decompress(&cinfo);
        return 1;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = buffer + (size_t)cinfo.output_scanline * stride;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    if (error.pub.num_warnings > 0) { // e.g. truncated or corrupt entropy-coded data
        char text[JMSG_LENGTH_MAX];
        (*cinfo.err->format_message)((j_common_ptr)&cinfo, text);
        snprintf(message, message_capacity, "%s", text);
        jpeg_destroy_decompress(&cinfo);
        free(buffer);
        return 2;
    }
    *width = (int)cinfo.output_width;
    *height = (int)cinfo.output_height;
    *pixels = buffer;
    jpeg_destroy_decompress(&cinfo);
    return 0;
}

void peftlab_jpeg_free(uint8_t *pixels) { free(pixels); }
