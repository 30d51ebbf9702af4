int util_twice(int x);
int calc_sum(int n);
