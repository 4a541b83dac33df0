# Sourced by the benchmarks (bench.sh, bench-delivery.sh): the deterministic reference files they
# share. `gen_reference_file GEN DIR NAME SIZE` generates DIR/NAME with the generator binary GEN
# if missing, through a temp file (an interrupted run never leaves a truncated file later runs
# would trust), stamped with the generator's source hash and arguments so that a file from an
# older generator is made again instead of silently reused.
gen_reference_file() {
    local generator="$1" file="$2/$3" size="$4"
    local hash
    hash=$(sha256sum functions/import-tracking-events/examples/gen_reference.rs | cut -c1-16)
    local stamp="gen_reference $hash --bytes $size --seed 42"
    if [[ ! -s "$file" || "$(cat "$file.stamp" 2>/dev/null)" != "$stamp" ]]; then
        echo "[bench] generating $file ($size)" >&2
        "$generator" --bytes "$size" --seed 42 --out "$file.tmp"
        mv "$file.tmp" "$file"
        echo "$stamp" >"$file.stamp"
    fi
}
