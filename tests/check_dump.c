#include "testutil.h"
START_TEST(t) {} END_TEST
static Suite *s(void){Suite *x=suite_create("d");TCase *c=tcase_create("c");tcase_add_test(c,t);suite_add_tcase(x,c);return x;}
GORO_TEST_MAIN(s)
