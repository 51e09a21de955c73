//! ImageNet class names and a search a student can type into.
//!
//! Two files, one class per line, line n = class n − 1: `imagenet_classes.txt` holds one short name
//! ("Egyptian cat"), `imagenet_synset_words.txt` the WordNet synonyms ("tabby, tabby cat").
//!
//! Search ranks, best first: the class index typed as a number; a whole name (short name or any synonym);
//! an informal alias from [`ALIASES`]; a name starting with the query; a word of a name starting with the
//! query; the query anywhere in a name; every word of the query starting some word of a name ("great shark").
//! Matching ignores case, and treats '-', '_' and ',' like spaces. Within a rank, a match on the short name
//! beats one on a synonym, then shorter names, then lower indices; aliases keep their listed order.

use crate::error::{Error, Result};

/// Informal words that match no ImageNet name (or match the wrong ones first), mapped to the classes a
/// student means. Kept short on purpose: only words the sample photos and the lessons invite.
pub const ALIASES: &[(&[&str], &[usize])] = &[
    // tabby, tiger cat, Persian cat, Siamese cat, Egyptian cat
    (&["kitty", "kitten", "kitties", "kittens", "cat", "cats", "pussycat"], &[281, 282, 283, 284, 285]),
    // golden retriever, Labrador retriever, German shepherd, Chihuahua, pug, Pomeranian, Pembroke, husky
    (&["puppy", "puppies", "pup", "doggy", "doggie", "dog", "dogs"], &[207, 208, 235, 151, 254, 259, 263, 248]),
    // wood rabbit, Angora, hare
    (&["bunny", "bunnies", "rabbit", "rabbits"], &[330, 332, 331]),
    // missile, projectile, space shuttle
    (&["rocket", "rockets"], &[657, 744, 812]),
    // espresso, coffee mug, coffeepot
    (&["coffee"], &[967, 504, 505]),
    // motor scooter, moped
    (&["motorbike", "motorcycle"], &[670, 665]),
    // airliner, warplane
    (&["plane", "airplane", "aeroplane"], &[404, 895]),
    // sports car, beach wagon, convertible, racer
    (&["car", "cars", "automobile"], &[817, 436, 511, 751]),
];

#[derive(Clone, Debug)]
pub struct ClassNames {
    short: Vec<String>,
    synonyms: Vec<Vec<String>>,
    /// Normalised short name first, then normalised synonyms.
    search_names: Vec<Vec<String>>,
}

fn lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.lines().map(|l| l.trim()).collect();
    while lines.last() == Some(&"") {
        lines.pop();
    }
    lines
}

fn normalise(s: &str) -> String {
    s.to_lowercase().replace(['-', '_', ','], " ").split_whitespace().collect::<Vec<_>>().join(" ")
}

impl ClassNames {
    /// Parses the short names and (optionally) the synonym lines; with synonyms, both must list the same
    /// number of classes.
    pub fn parse(short_names: &str, synset_words: Option<&str>) -> Result<ClassNames> {
        let short_lines = lines(short_names);
        if short_lines.is_empty() {
            return Err(Error::Invalid("class names: the file is empty".into()));
        }
        if let Some(i) = short_lines.iter().position(|l| l.is_empty()) {
            return Err(Error::Invalid(format!("class names: line {} is empty", i + 1)));
        }
        let short: Vec<String> = short_lines.iter().map(|s| s.to_string()).collect();
        let synonyms: Vec<Vec<String>> = match synset_words {
            None => short.iter().map(|s| vec![s.clone()]).collect(),
            Some(text) => {
                let syn_lines = lines(text);
                if syn_lines.len() != short.len() {
                    return Err(Error::Invalid(format!(
                        "class names: {} short names but {} synonym lines; the two files must list the same classes",
                        short.len(),
                        syn_lines.len()
                    )));
                }
                let mut all = Vec::with_capacity(syn_lines.len());
                for (i, line) in syn_lines.iter().enumerate() {
                    let words: Vec<String> =
                        line.split(',').map(|w| w.trim().to_string()).filter(|w| !w.is_empty()).collect();
                    if words.is_empty() {
                        return Err(Error::Invalid(format!("class synonyms: line {} is empty", i + 1)));
                    }
                    all.push(words);
                }
                all
            }
        };
        let search_names = short
            .iter()
            .zip(&synonyms)
            .map(|(s, syn)| std::iter::once(s).chain(syn).map(|n| normalise(n)).collect())
            .collect();
        Ok(ClassNames { short, synonyms, search_names })
    }

    pub fn len(&self) -> usize {
        self.short.len()
    }

    pub fn is_empty(&self) -> bool {
        self.short.is_empty()
    }

    /// The short name; an out-of-range index gives a placeholder rather than a panic in the page.
    pub fn short_name(&self, i: usize) -> &str {
        self.short.get(i).map(|s| s.as_str()).unwrap_or("(no such class)")
    }

    pub fn synonyms(&self, i: usize) -> &[String] {
        self.synonyms.get(i).map(|s| s.as_slice()).unwrap_or(&[])
    }

    /// "Egyptian cat (285)".
    pub fn label(&self, i: usize) -> String {
        format!("{} ({i})", self.short_name(i))
    }

    /// Class indices matching `query`, best first, at most `limit`.
    pub fn search(&self, query: &str, limit: usize) -> Vec<usize> {
        let q = normalise(query);
        if q.is_empty() || limit == 0 {
            return Vec::new();
        }
        // (rank, tie-breaks..., index)
        let mut hits: Vec<(u8, usize, usize, usize)> = Vec::new();
        let number = q.strip_prefix('#').unwrap_or(&q);
        if let Ok(i) = number.parse::<usize>() {
            if i < self.len() {
                hits.push((0, 0, 0, i));
            }
        }
        for (words, classes) in ALIASES {
            if words.contains(&q.as_str()) {
                for (order, &i) in classes.iter().enumerate() {
                    if i < self.len() {
                        hits.push((2, order, 0, i));
                    }
                }
            }
        }
        let q_words: Vec<&str> = q.split(' ').collect();
        for (i, names) in self.search_names.iter().enumerate() {
            let best = names
                .iter()
                .enumerate()
                .filter_map(|(k, name)| name_rank(name, &q, &q_words).map(|r| (r, (k > 0) as usize, name.len())))
                .min();
            if let Some((rank, is_synonym, len)) = best {
                hits.push((rank, is_synonym, len, i));
            }
        }
        hits.sort();
        let mut seen = vec![false; self.len()];
        let mut out = Vec::new();
        for (_, _, _, i) in hits {
            if !seen[i] {
                seen[i] = true;
                out.push(i);
                if out.len() == limit {
                    break;
                }
            }
        }
        out
    }
}

/// How well one normalised name matches the normalised query (lower is better; see module docs).
fn name_rank(name: &str, q: &str, q_words: &[&str]) -> Option<u8> {
    if name == q {
        Some(1)
    } else if name.starts_with(q) {
        Some(3)
    } else if name.split(' ').any(|w| w.starts_with(q)) || name.contains(&format!(" {q}")) {
        Some(4)
    } else if name.contains(q) {
        Some(5)
    } else if q_words.len() > 1 && q_words.iter().all(|qw| name.split(' ').any(|w| w.starts_with(qw))) {
        Some(6)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHORT: &str = "catamaran\ntabby\nEgyptian cat\ngreat white shark\n";
    const SYN: &str = "catamaran\ntabby, tabby cat\nEgyptian cat\ngreat white shark, white shark, man-eater\n";

    #[test]
    fn ranks_exact_then_prefix_then_word_then_substring() {
        let n = ClassNames::parse(SHORT, Some(SYN)).unwrap();
        assert_eq!(n.search("tabby", 10), vec![1]);
        assert_eq!(n.search("Egyptian CAT", 10)[0], 2);
        // "cat": prefix (catamaran) before word-prefix (tabby cat, Egyptian cat)
        assert_eq!(n.search("cat", 10)[0], 0);
        assert_eq!(n.search("eater", 10), vec![3]);
        assert_eq!(n.search("great shark", 10), vec![3]);
        assert_eq!(n.search("man eater", 10), vec![3]);
        assert_eq!(n.search("2", 10)[0], 2);
        assert!(n.search("", 10).is_empty());
    }

    #[test]
    fn rejects_mismatched_or_empty_files() {
        assert!(ClassNames::parse("", None).is_err());
        assert!(ClassNames::parse("a\n\nb\n", None).is_err());
        assert!(ClassNames::parse(SHORT, Some("a\nb\n")).is_err());
    }
}
