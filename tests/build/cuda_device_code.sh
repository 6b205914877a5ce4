#!/usr/bin/env bash
# The kernels library carries device code for sm_90a (H100) and sm_80: this toolkit has no
# cuobjdump, so count the `-arch sm_XX` lines nvcc leaves in each embedded cubin.
set -u
lib=$1
n90=$(strings "$lib" | grep -c -- '-arch sm_90a')
n80=$(strings "$lib" | grep -c -- '-arch sm_80')
echo "cubins: sm_90a=$n90 sm_80=$n80 in $lib"
[ "$n90" -ge 1 ] && [ "$n80" -ge 1 ]
