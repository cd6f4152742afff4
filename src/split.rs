//! Splitting a long answer into Slack-sized messages. Pure.
//!
//! Slack truncates message text at 40,000 characters and recommends at most 4,000 per message.
//! We cut at paragraph boundaries outside code fences; a code block too long for one message is
//! cut between lines and its fence closed and reopened; a paragraph too long is cut between
//! sentences, then lines, then words. Nothing is dropped: joining the chunks with a blank line
//! gives back the text (plus the fence lines added at cuts).

/// Characters per message we aim for: below Slack's recommended 4,000.
pub const SLACK_MESSAGE_LIMIT: usize = 3_900;

/// Splits `text` into chunks of at most `limit` characters (`limit` ≥ 80).
pub fn split_message(text: &str, limit: usize) -> Vec<String> {
    let limit = limit.max(80);
    let text = text.trim_matches('\n');
    if char_len(text) <= limit {
        return vec![text.to_string()];
    }
    let mut chunks: Vec<String> = Vec::new();
    let mut current = String::new();
    for block in blocks(text) {
        let pieces = if char_len(&block.text) > limit {
            match block.fence {
                Some(ref fence) => split_fenced(&block.text, fence, limit),
                None => split_paragraph(&block.text, limit),
            }
        } else {
            vec![block.text]
        };
        for piece in pieces {
            let joined = if current.is_empty() {
                char_len(&piece)
            } else {
                char_len(&current) + 2 + char_len(&piece)
            };
            if joined > limit && !current.is_empty() {
                chunks.push(std::mem::take(&mut current));
            }
            if !current.is_empty() {
                current.push_str("\n\n");
            }
            current.push_str(&piece);
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

/// A closing fence is backticks only (CommonMark): "```rust" inside a block is code.
fn is_closing_fence(line: &str) -> bool {
    let t = line.trim();
    t.len() >= 3 && t.chars().all(|c| c == '`')
}

fn char_len(s: &str) -> usize {
    s.chars().count()
}

struct Block {
    text: String,
    /// The opening fence line (e.g. "```rust") when the block is a code block.
    fence: Option<String>,
}

/// Paragraphs separated by blank lines; a fenced code block (with any blank lines inside it)
/// is one block.
fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut lines: Vec<&str> = Vec::new();
    let mut fence: Option<String> = None;
    let flush = |lines: &mut Vec<&str>, out: &mut Vec<Block>, fence: Option<String>| {
        if !lines.is_empty() {
            out.push(Block {
                text: lines.join("\n"),
                fence,
            });
            lines.clear();
        }
    };
    for line in text.split('\n') {
        let is_fence = line.trim_start().starts_with("```");
        match &fence {
            None if is_fence => {
                flush(&mut lines, &mut out, None);
                lines.push(line);
                // A fence opened and closed on one line is not a block opener.
                let trimmed = line.trim();
                if !(trimmed.len() > 3 && trimmed.ends_with("```")) {
                    fence = Some(line.trim().to_string());
                }
            }
            None if line.trim().is_empty() => flush(&mut lines, &mut out, None),
            None => lines.push(line),
            Some(open) => {
                lines.push(line);
                if is_closing_fence(line) {
                    let open = open.clone();
                    fence = None;
                    flush(&mut lines, &mut out, Some(open));
                }
            }
        }
    }
    let open = fence.take();
    flush(&mut lines, &mut out, open);
    out
}

/// Cuts a code block between lines, closing and reopening the fence at each cut.
fn split_fenced(block: &str, fence: &str, limit: usize) -> Vec<String> {
    let lines: Vec<&str> = block.split('\n').collect();
    let has_close = lines.len() > 1 && lines.last().is_some_and(|l| is_closing_fence(l));
    let mut body: Vec<&str> = lines[1..if has_close {
        lines.len() - 1
    } else {
        lines.len()
    }]
        .to_vec();
    // An opening line too long to repeat on every piece (a huge info string) opens each piece
    // as a plain fence; what followed its backticks becomes the first line of code.
    let fence = if char_len(fence) > limit / 4 {
        let rest = lines[0].trim_start().trim_start_matches('`');
        if !rest.is_empty() {
            body.insert(0, rest);
        }
        "```"
    } else {
        fence
    };
    // Room for the fence lines wrapped around every piece.
    let room = limit.saturating_sub(char_len(fence) + 5).max(20);
    let mut out = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut size = 0;
    let push = |current: &mut Vec<String>, out: &mut Vec<String>| {
        if !current.is_empty() {
            out.push(format!("{fence}\n{}\n```", current.join("\n")));
            current.clear();
        }
    };
    for line in &body {
        // A single line longer than the room is cut by characters: code has no sentences.
        for part in hard_wrap(line, room) {
            let add = char_len(&part) + 1;
            if size + add > room && !current.is_empty() {
                push(&mut current, &mut out);
                size = 0;
            }
            size += add;
            current.push(part);
        }
    }
    push(&mut current, &mut out);
    out
}

fn hard_wrap(line: &str, width: usize) -> Vec<String> {
    if char_len(line) <= width {
        return vec![line.to_string()];
    }
    let chars: Vec<char> = line.chars().collect();
    chars.chunks(width).map(|c| c.iter().collect()).collect()
}

/// Cuts prose: between sentences, else between lines, else between words.
fn split_paragraph(text: &str, limit: usize) -> Vec<String> {
    let units = sentences(text);
    let mut out = Vec::new();
    let mut current = String::new();
    for unit in units {
        let unit_parts = if char_len(&unit) > limit {
            words_within(&unit, limit)
        } else {
            vec![unit]
        };
        for part in unit_parts {
            if char_len(&current) + char_len(&part) > limit && !current.is_empty() {
                out.push(current.trim_end().to_string());
                current.clear();
            }
            current.push_str(&part);
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim_end().to_string());
    }
    out
}

/// Sentences (and line ends) with their trailing whitespace, so concatenation rebuilds the text.
fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (i, &(pos, c)) in chars.iter().enumerate() {
        let next = chars.get(i + 1).map(|&(_, n)| n);
        let ends =
            c == '\n' || (matches!(c, '.' | '!' | '?') && next.is_some_and(char::is_whitespace));
        if ends {
            // Include following whitespace in this sentence.
            let mut end = pos + c.len_utf8();
            let mut j = i + 1;
            while let Some(&(p, n)) = chars.get(j) {
                if !n.is_whitespace() {
                    break;
                }
                end = p + n.len_utf8();
                j += 1;
            }
            if end > start {
                out.push(text[start..end].to_string());
                start = end;
            }
        }
    }
    if start < text.len() {
        out.push(text[start..].to_string());
    }
    out
}

/// A sentence longer than a message: cut between words (by characters only if one word is).
fn words_within(sentence: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for word in sentence.split_inclusive(' ') {
        for part in hard_wrap(word, limit) {
            if char_len(&current) + char_len(&part) > limit && !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            current.push_str(&part);
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prose(paragraphs: usize) -> String {
        (0..paragraphs)
            .map(|p| {
                (0..8)
                    .map(|s| {
                        format!("Paragraph {p} sentence {s} explains one more detail of the fix.")
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join("\n\n")
    }

    #[test]
    fn short_text_is_one_chunk() {
        assert_eq!(split_message("hello", 100), vec!["hello"]);
    }

    #[test]
    fn twenty_thousand_characters_split_on_paragraphs() {
        let text = prose(45);
        assert!(text.chars().count() >= 20_000);
        let chunks = split_message(&text, SLACK_MESSAGE_LIMIT);
        assert!(chunks.len() >= 6);
        for c in &chunks {
            assert!(c.chars().count() <= SLACK_MESSAGE_LIMIT);
            assert!(
                c.ends_with('.'),
                "chunk ends mid-sentence: {:?}",
                &c[c.len() - 20..]
            );
            assert!(c.starts_with("Paragraph"));
        }
        assert_eq!(chunks.join("\n\n"), text);
    }

    #[test]
    fn long_paragraph_splits_between_sentences() {
        let text = (0..200)
            .map(|i| format!("Sentence number {i} is here."))
            .collect::<Vec<_>>()
            .join(" ");
        let chunks = split_message(&text, 500);
        for c in &chunks {
            assert!(c.chars().count() <= 500);
            assert!(c.ends_with('.'));
        }
        assert_eq!(chunks.join(" "), text);
    }

    #[test]
    fn a_fence_with_a_huge_info_string_loses_nothing() {
        // Found by the request fuzzer: an unclosed fence whose opening line is the whole text.
        let text = format!("```{}", "x".repeat(300));
        let chunks = split_message(&text, 80);
        assert!(!chunks.is_empty());
        let kept: usize = chunks
            .iter()
            .map(|c| c.chars().filter(|ch| *ch == 'x').count())
            .sum();
        assert_eq!(kept, 300);
        for c in &chunks {
            assert!(c.chars().count() <= 80, "{c:?}");
        }
    }

    #[test]
    fn a_fence_line_with_text_inside_a_block_is_code_not_a_close() {
        // Found by the request fuzzer: "````x…" inside a block was taken as its closing fence
        // and the text after the backticks was dropped at a cut.
        let inner = format!("````{}", "y".repeat(30));
        let text = format!("```\n{}\n{inner}\n{}\n```", "a".repeat(60), "b".repeat(60));
        let chunks = split_message(&text, 80);
        let joined = chunks.join("\n");
        assert!(joined.contains(&inner), "{chunks:?}");
        for c in &chunks {
            assert!(c.chars().count() <= 80, "{c:?}");
        }
    }

    #[test]
    fn long_code_block_is_refenced() {
        let body: Vec<String> = (0..400).map(|i| format!("let x{i} = {i};")).collect();
        let text = format!(
            "Here is the code:\n\n```rust\n{}\n```\n\nDone.",
            body.join("\n")
        );
        let chunks = split_message(&text, 1000);
        let mut seen = Vec::new();
        for c in &chunks {
            assert!(c.chars().count() <= 1000, "{}", c.chars().count());
            assert_eq!(c.matches("```").count() % 2, 0, "unbalanced fence in {c:?}");
            for line in c.lines() {
                if line.starts_with("let ") {
                    seen.push(line.to_string());
                }
            }
        }
        assert_eq!(seen, body, "every code line survives, in order");
        assert_eq!(chunks.last().map(|s| s.ends_with("Done.")), Some(true));
    }

    #[test]
    fn blank_lines_inside_code_do_not_split_it_when_it_fits() {
        let text = format!("{}\n\n```\na\n\nb\n```", "x".repeat(150));
        let chunks = split_message(&text, 160);
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[1], "```\na\n\nb\n```");
    }

    #[test]
    fn a_giant_word_is_cut_by_characters_without_loss() {
        let text = "é".repeat(1000);
        let chunks = split_message(&text, 300);
        assert!(chunks.iter().all(|c| c.chars().count() <= 300));
        assert_eq!(chunks.concat(), text);
    }
}
