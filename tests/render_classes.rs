//! Heatmaps, overlays, difference images, PNG output, and the class names with their search, checked
//! against the real class files from $NETLENS_SHARED or ../shared.

use std::path::PathBuf;

use image::{Rgb, RgbImage};
use netlens::classes::ClassNames;
use netlens::imageio::{rgb_to_rgba, rgb_to_tensor};
use netlens::render::{diff_rgba, encode_png_rgba, heatmap_rgba, overlay_rgba};

fn shared_dir() -> PathBuf {
    match std::env::var_os("NETLENS_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"),
    }
}

fn luminance(p: &[u8]) -> f32 {
    0.2126 * p[0] as f32 + 0.7152 * p[1] as f32 + 0.0722 * p[2] as f32
}

// ---------- render ----------

#[test]
fn heatmap_runs_dark_to_bright_and_is_normalised_per_map() {
    let ramp: Vec<f32> = (0..64).map(|i| i as f32 * 0.01).collect();
    let hm = heatmap_rgba(&ramp);
    assert_eq!(hm.len(), 64 * 4);
    assert!(hm.chunks(4).all(|p| p[3] == 255));
    // Inferno: near-black at 0, pale yellow at the top.
    assert!(luminance(&hm[..4]) < 10.0, "{:?}", &hm[..4]);
    let top = &hm[63 * 4..];
    assert!(top[0] > 240 && top[1] > 240 && top[2] > 130 && top[2] < 200, "{top:?}");
    // Perceptually ordered: luminance never drops along the ramp.
    let lum: Vec<f32> = hm.chunks(4).map(luminance).collect();
    assert!(lum.windows(2).all(|w| w[1] >= w[0] - 0.5), "{lum:?}");
    // Per-map normalisation: scaling the map changes nothing (by a power of two, so v / max is bit-exact).
    let scaled: Vec<f32> = ramp.iter().map(|v| v * 1024.0).collect();
    assert_eq!(heatmap_rgba(&scaled), hm);
    // The colours come from colorous's INFERNO at v / max.
    let c = colorous::INFERNO.eval_continuous(0.5);
    let mid = heatmap_rgba(&[0.0, 5.0, 10.0]);
    assert_eq!(&mid[4..7], &[c.r, c.g, c.b]);
}

#[test]
fn degenerate_maps_do_not_produce_nan_colours() {
    let zeros = heatmap_rgba(&[0.0; 16]);
    assert!(zeros.chunks(4).all(|p| p == &zeros[..4]), "a flat map is one colour");
    assert!(luminance(&zeros[..4]) < 10.0);
    let weird = heatmap_rgba(&[f32::NAN, f32::INFINITY, -1.0, 2.0]);
    assert_eq!(weird.len(), 16);
    // The largest finite value is the bright end; NaN and infinity are treated as nothing.
    assert!(luminance(&weird[12..16]) > 200.0);
    assert!(luminance(&weird[..4]) < 10.0 && luminance(&weird[4..8]) < 10.0);
    assert!(heatmap_rgba(&[]).is_empty());
}

#[test]
fn overlay_keeps_the_photo_where_saliency_is_zero_and_shows_heat_where_it_peaks() {
    let photo = RgbImage::from_fn(4, 1, |x, _| Rgb([10 + x as u8 * 40, 200, 50]));
    let rgba = rgb_to_rgba(&photo);
    let map = [0.0, 0.0, 1.0, 2.0];
    let out = overlay_rgba(&rgba, &map);
    assert_eq!(&out[..8], &rgba[..8], "zero saliency leaves the photo alone");
    assert_eq!(&out[12..16], &heatmap_rgba(&map)[12..16], "peak saliency is pure heatmap colour");
    // Half saliency: the average of photo and heatmap colour.
    let hm = heatmap_rgba(&map);
    for c in 0..3 {
        let want = (rgba[8 + c] as f32 + hm[8 + c] as f32) / 2.0;
        assert!((out[8 + c] as f32 - want).abs() <= 0.5 + 1e-3, "channel {c}: {} vs {want}", out[8 + c]);
    }
    assert!(out.chunks(4).all(|p| p[3] == 255));
}

#[test]
fn diff_is_grey_centred_and_scaled_by_gain() {
    let original = RgbImage::from_fn(3, 2, |x, y| Rgb([100 + x as u8, 50 + y as u8, 200]));
    let mut changed = original.clone();
    changed.put_pixel(0, 0, Rgb([102, 50, 197])); // +2 red, −3 blue
    changed.put_pixel(2, 1, Rgb([255, 0, 200])); // large change
    let (a, b) = (rgb_to_tensor(&original), rgb_to_tensor(&changed));
    let d1 = diff_rgba(&a, &b, 1.0);
    let d10 = diff_rgba(&a, &b, 10.0);
    assert_eq!(d1.len(), 6 * 4);
    assert_eq!(&d1[..4], &[130, 128, 125, 255]);
    assert_eq!(&d10[..4], &[148, 128, 98, 255]);
    // Unchanged pixels are mid-grey.
    assert_eq!(&d1[4..8], &[128, 128, 128, 255]);
    // Pixel (2,1) = index 5: red +153, green −51.
    assert_eq!(&d1[20..24], &[255, 77, 128, 255]);
    assert_eq!(&d10[20..24], &[255, 0, 128, 255]);
    assert!(diff_rgba(&a, &a, 10.0).chunks(4).all(|p| p == [128, 128, 128, 255]));
}

#[test]
fn png_encoding_round_trips_and_rejects_wrong_sizes() {
    let rgba: Vec<u8> = (0..5 * 3 * 4).map(|i| (i * 17 % 256) as u8).collect();
    let png = encode_png_rgba(&rgba, 5, 3).unwrap();
    let back = image::load_from_memory_with_format(&png, image::ImageFormat::Png).unwrap().to_rgba8();
    assert_eq!(back.dimensions(), (5, 3));
    assert_eq!(back.into_raw(), rgba);
    assert!(encode_png_rgba(&rgba, 5, 4).is_err());
    assert!(encode_png_rgba(&rgba[1..], 5, 3).is_err());
}

// ---------- class names ----------

fn real_classes() -> ClassNames {
    let dir = shared_dir().join("models");
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    ClassNames::parse(&read("imagenet_classes.txt"), Some(&read("imagenet_synset_words.txt"))).unwrap()
}

#[test]
fn real_class_files_parse() {
    let names = real_classes();
    assert_eq!(names.len(), 1000);
    assert_eq!(names.short_name(0), "tench");
    assert_eq!(names.short_name(285), "Egyptian cat");
    assert_eq!(names.short_name(999), "toilet tissue");
    assert_eq!(names.synonyms(281), &["tabby".to_string(), "tabby cat".to_string()]);
    assert!(names.synonyms(2).contains(&"man-eater".to_string()));
    assert_eq!(names.label(76), "tarantula (76)");
    assert!(!names.short_name(1000).is_empty(), "out of range gives a placeholder, not a panic");
    assert!(names.synonyms(5000).is_empty());
}

#[test]
fn mismatched_or_empty_class_files_are_rejected() {
    let dir = shared_dir().join("models");
    let short = std::fs::read_to_string(dir.join("imagenet_classes.txt")).unwrap();
    let syn = std::fs::read_to_string(dir.join("imagenet_synset_words.txt")).unwrap();
    let short_999: String = short.lines().take(999).map(|l| format!("{l}\n")).collect();
    let err = ClassNames::parse(&short_999, Some(&syn)).unwrap_err().to_string();
    assert!(err.contains("999") && err.contains("1000"), "{err}");
    assert!(ClassNames::parse("", None).is_err());
    assert!(ClassNames::parse("\n\n", Some("\n\n")).is_err());
    // Without synonyms the short names are the only names.
    let plain = ClassNames::parse(&short, None).unwrap();
    assert_eq!(plain.len(), 1000);
    assert_eq!(plain.search("Egyptian cat", 1), vec![285]);
}

#[test]
fn search_finds_what_a_student_types() {
    let names = real_classes();
    let is_domestic_cat = |i: usize| (281..=285).contains(&i);
    let is_dog = |i: usize| (151..=268).contains(&i);

    let kitty = names.search("kitty", 5);
    assert_eq!(kitty.len(), 5);
    assert!(kitty.iter().all(|&i| is_domestic_cat(i)), "{kitty:?}");
    for i in [281, 282, 285] {
        assert!(kitty.contains(&i));
    }
    assert!(names.search("Kitten", 3).iter().all(|&i| is_domestic_cat(i)));
    assert!(names.search("cat", 5).iter().all(|&i| is_domestic_cat(i)));

    assert_eq!(names.search("tabby", 5)[0], 281);
    assert_eq!(names.search("TABBY CAT", 5)[0], 281);
    let espresso = names.search("espresso", 5);
    assert_eq!(espresso[0], 967);
    assert!(espresso.contains(&550), "espresso maker: {espresso:?}");
    assert_eq!(names.search("coffee", 3)[0], 967);
    assert_eq!(names.search("egyptian", 3)[0], 285);
    assert_eq!(names.search("tarantula", 3)[0], 76);
    assert_eq!(names.search("  Egyptian   Cat ", 3)[0], 285);

    // Exact name beats prefix: "hare" (331) before "harvester", "hartebeest".
    assert_eq!(names.search("hare", 5)[0], 331);
    // A synonym finds its class: "man-eater" / "man eater" → great white shark.
    assert_eq!(names.search("man eater", 3)[0], 2);
    assert_eq!(names.search("husky", 3)[0], 248);
    // Substring inside a word.
    let riever = names.search("riever", 10);
    assert_eq!(riever.len(), 5, "{riever:?}");
    assert!(riever.iter().all(|&i| names.short_name(i).ends_with("retriever")));

    let puppy = names.search("puppy", 5);
    assert!(!puppy.is_empty() && puppy.iter().all(|&i| is_dog(i)), "{puppy:?}");
    assert!(names.search("doggy", 3).iter().all(|&i| is_dog(i)));
    assert!(names.search("bunny", 3).contains(&330));
    assert_eq!(names.search("rocket", 1), vec![657]);

    // Numbers are class indices.
    assert_eq!(names.search("285", 5)[0], 285);
    assert_eq!(names.search("#76", 5)[0], 76);
    assert!(names.search("1000", 5).is_empty());

    assert!(names.search("zzzzqx", 5).is_empty());
    assert!(names.search("", 5).is_empty());
    assert!(names.search("cat", 0).is_empty());
    assert_eq!(names.search("a", 7).len(), 7);
}

#[test]
fn heatmap_saturates_the_top_percent_so_a_heavy_tailed_map_stays_visible() {
    // 1000 values: one huge outlier, the rest a ramp. Scaled by the outlier the ramp would be black.
    let mut map: Vec<f32> = (0..1000).map(|i| i as f32).collect();
    map[999] = 1e6;
    let hm = heatmap_rgba(&map);
    // The 99th percentile (nearest rank: the 990th value, 989.0) and everything above is the bright end.
    let bright = &hm[989 * 4..990 * 4];
    assert_eq!(&hm[999 * 4..1000 * 4], bright);
    assert!(luminance(bright) > 200.0);
    // Mid-ramp is mid-colormap, not black.
    let c = colorous::INFERNO.eval_continuous(494.0 / 989.0);
    let mid = &hm[494 * 4..495 * 4];
    for k in 0..3 {
        assert!((mid[k] as i32 - [c.r, c.g, c.b][k] as i32).abs() <= 2, "{mid:?} vs {c:?}");
    }
}
