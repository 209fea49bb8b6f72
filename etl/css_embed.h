/*
 * css_embed.h - the report page's stylesheet, compiled into the program
 * (build/css_embed.c is generated from etl/page.css by the Makefile).
 */
#ifndef ONESTOP_CSS_EMBED_H
#define ONESTOP_CSS_EMBED_H

/* etl/page.css minified (etl/embed.sh), NUL-terminated. */
extern const char *const page_css;

#endif
