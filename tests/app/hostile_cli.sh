#!/usr/bin/env bash
# Hostile input through the kdtune command, end to end: every case must end with exit status 1 or 2
# and a message on stderr, within 10 s, with no signal or sanitizer report, and with the files of an
# earlier run unchanged byte for byte. Usage: hostile_cli.sh KDTUNE
set -uo pipefail
K=$(realpath "$1")
work=$(mktemp -d /tmp/kdt_hostile_cli_XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
fails=0
tiny=(federation.participants=3 data.pool_size=300 data.transfer_size=100 data.val_size=100
      data.test_size=100 'model.mlp_hidden=[16]' pretrain.epochs=2 kd.epochs=1 tuner.budget=2
      'grid.temperatures=[1.0,4.0]' 'grid.alphas=[0.0,0.5]' 'grid.transfer_sets=[unlabelled]'
      'grid.positions=[forward]' 'tuner.strategies=[random]' output.plots=false)

sums() { find "$1" -type f ! -name lock -print0 | sort -z | xargs -0 sha256sum; }

# expect NAME WANT_RE NEEDLE -- command...: runs it and checks status, message, time.
expect() {
  local name=$1 want=$2 needle=$3; shift 4
  local start=$SECONDS
  timeout -s KILL 10 "$@" >out.txt 2>err.txt </dev/null
  local rc=$?
  local why=""
  if [ $rc -eq 137 ]; then why="killed after 10 s (hang)"
  elif [ $rc -ge 128 ]; then why="signal $((rc - 128))"
  elif ! [[ $rc =~ ^($want)$ ]]; then why="exit $rc, expected $want"
  elif grep -q "Sanitizer\|runtime error" err.txt; then why="sanitizer report"
  elif ! grep -q -- "$needle" err.txt; then why="message lacks '$needle'"
  fi
  if [ -n "$why" ]; then
    echo "FAIL $name: $why"; sed 's/^/    /' err.txt | head -5; fails=$((fails + 1))
  else
    echo "ok   $name (exit $rc, $((SECONDS - start)) s): $(head -c 160 err.txt | tr '\n' ' ')"
  fi
}

# An earlier, complete run whose files must survive every case below.
"$K" run -q -o run "${tiny[@]}" >/dev/null 2>run.err || { echo "FAIL: the reference run failed"; cat run.err; exit 1; }
sums run > before.sums

# Class 2: special files where kdtune's own files go.
mkfifo fifo.yaml
expect config-fifo 2 "FIFO" -- "$K" validate -c fifo.yaml
expect config-devzero 2 "character device" -- "$K" validate -c /dev/zero
mkdir adir
expect config-dir 2 "directory" -- "$K" validate -c adir
mkfifo rec.yaml
expect recommended-fifo "1|2" "FIFO" -- "$K" eval -o run --pair 0,1 --recommended rec.yaml "${tiny[@]}"
expect partition-fifo "1|2" "FIFO" -- "$K" partition -o part2 partition.scheme=from_file partition.file=fifo.yaml "${tiny[@]}"
# A checkpoint replaced by a link to a file outside, and by a FIFO: refused; the outside file unchanged.
cp -a run run2
echo precious > outside.txt
rm run2/participants/p0.ckpt && ln -s "$work/outside.txt" run2/participants/p0.ckpt
expect ckpt-link 1 "p0.ckpt" -- "$K" pretrain -o run2 "${tiny[@]}"
grep -qx precious outside.txt || { echo "FAIL ckpt-link: the link's target changed"; fails=$((fails + 1)); }
rm run2/participants/p0.ckpt && mkfifo run2/participants/p0.ckpt
expect ckpt-fifo 1 "FIFO" -- "$K" pretrain -o run2 "${tiny[@]}"
rm run2/participants/p0.ckpt && ln -s /dev/zero run2/participants/p0.ckpt
expect ckpt-devzero 1 "character device" -- "$K" pretrain -o run2 "${tiny[@]}"
# Files kdtune writes, planted as links: refused, targets unchanged.
rm -rf run3 && cp -a run run3 && rm run3/summary.json && ln -s "$work/outside.txt" run3/summary.json
expect summary-link 1 "symbolic link" -- "$K" report -o run3 "${tiny[@]}"
grep -qx precious outside.txt || { echo "FAIL summary-link: the link's target changed"; fails=$((fails + 1)); }

# A folder kdtune writes into, replaced by a link to a folder outside: refused, nothing written there.
rm -rf run5 && cp -a run run5 && mkdir outside_dir && rm -rf run5/participants && ln -s "$work/outside_dir" run5/participants
expect folder-link 1 "symbolic link" -- "$K" pretrain -o run5 "${tiny[@]}"
[ -z "$(ls outside_dir)" ] || { echo "FAIL folder-link: written outside"; fails=$((fails + 1)); }

# Class 3: unbounded sizes.
/usr/bin/python3 -c "print('data: ' + '[' * 100000 + ']' * 100000)" > deep.yaml
expect config-deep 2 "nested deeper" -- "$K" validate -c deep.yaml
expect mlp-huge 2 "model.mlp_hidden" -- "$K" validate 'model.mlp_hidden=[65536,65536,65536,65536,65536,65536,65536,65536]'
expect data-huge 2 "data.pool_size" -- "$K" validate data.pool_size=10000000 data.synthetic.image_size=256 data.synthetic.channels=4

# Class 5: names that are not UTF-8.
expect name-utf8 2 "not valid UTF-8" -- "$K" validate $'experiment.name=a\xffb'
expect dir-utf8 2 "not valid UTF-8" -- "$K" validate -o $'runs/\xc3('

# Class 6: a temporary left by a kill is removed when the run directory is taken again.
rm -rf run4 && cp -a run run4
echo half > run4/participants/p1.ckpt.tmp.99999
echo half > run4/partition/indices.bin.tmp.4242
ln -s "$work/outside.txt" run4/participants/p2.ckpt.tmp.7
"$K" pretrain -q -o run4 "${tiny[@]}" >/dev/null 2>&1 || { echo "FAIL stale-temp: the rerun failed"; fails=$((fails + 1)); }
if ls run4/participants run4/partition | grep -q '\.tmp\.'; then echo "FAIL stale-temp: left"; fails=$((fails + 1)); else echo "ok   stale-temp"; fi
grep -qx precious outside.txt || { echo "FAIL stale-temp: a link's target changed"; fails=$((fails + 1)); }

# Class 1: a run directory whose name holds a quote and newlines, reported with plots.
if command -v gnuplot >/dev/null; then
  evil=$'ev\'il\nsystem(\'touch PWNED\')\n#"dir'
  cp -a run "$evil"
  timeout -s KILL 20 "$K" report -q -o "$evil" "${tiny[@]}" output.plots=true >/dev/null 2>err.txt
  rc=$?
  if [ -e PWNED ] || [ -e "$evil/PWNED" ] || [ -e "$evil/plots/PWNED" ]; then echo "FAIL gnuplot ran a command"; fails=$((fails + 1));
  elif [ $rc -ne 0 ]; then echo "FAIL report on an odd directory name: exit $rc"; cat err.txt; fails=$((fails + 1));
  else echo "ok   plot-injection"; fi
fi

sums run > after.sums
if ! cmp -s before.sums after.sums; then echo "FAIL: the earlier run's files changed"; diff before.sums after.sums; fails=$((fails + 1)); fi
echo "$fails failure(s)"
[ $fails -eq 0 ]
