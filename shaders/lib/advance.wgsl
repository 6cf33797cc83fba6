// advance_to(id, p): greedy decoding moves on to token `id`, chosen for position p. It becomes the
// next step's input, is recorded in history[p] for the host (dropped past its end), and the
// position and the rows attention reads move on. The including shader declares `ids`, `position`,
// `kv_length` and `history` as read_write storage (advance.wgsl, llama_decode_step.wgsl).
fn advance_to(id: i32, p: u32) {
  ids[0] = id;
  if (p < arrayLength(&history)) { history[p] = id; }
  position[0] = p;
  kv_length[0] = p + 1u;
}
