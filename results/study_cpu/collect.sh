#!/bin/bash
# Copy what the CPU study produced (runs/study_cpu/) into results/study_cpu/, never checkpoints: the outputs,
# the evaluation runs (samples, manifests, leaderboard), and per cell the training log, stage markers and logs,
# and the entropy comparison. Another study: collect.sh DIR (its study.yaml's `out` is where the study ran).
cd "$(dirname "$0")/../.."
dst=${1:-results/study_cpu}
src=$(python -c "import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))['out'])" $dst/study.yaml)
PYTHONPATH=$PWD python -m harness.cli study --config $dst/study.yaml --report
cp $src/study.parquet $src/report.md $src/*.png $dst/
rm -rf $dst/results $dst/cells $dst/logs
cp -r $src/results $dst/results
[ -d $src/logs ] && cp -r $src/logs $dst/logs
for c in $src/cells/*/; do
  n=$(basename $c); mkdir -p $dst/cells/$n
  cp $c/train/log.jsonl $c/train/config.yaml $dst/cells/$n/ 2>/dev/null
  cp -r $c/done $c/logs $dst/cells/$n/ 2>/dev/null
  [ -f $c/entropy/compare.md ] && cp $c/entropy/compare.md $dst/cells/$n/entropy_compare.md
done
find $dst -name "*.lock" -o -name ".lock" | xargs -r rm -f
du -sh $dst
