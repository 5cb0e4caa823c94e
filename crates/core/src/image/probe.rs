#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs, clippy::cast_precision_loss)]
use super::*;

#[test]
#[ignore]
fn probe() {
    let path = std::env::var("PROBE").unwrap();
    let img = crate::codec::image::decode(&std::fs::read(path).unwrap()).unwrap().pixels;
    let key = WatermarkKey::from_bytes([9; 32]);
    let mut m = img.clone();
    let key = if std::env::var("PROBE_RAW").is_ok() {
        let t = std::fs::read_to_string("/tmp/iw/home/watermark.key").unwrap();
        WatermarkKey::from_hex(t.lines().nth(1).unwrap()).unwrap()
    } else {
        ImageEmbedder::new(&key, ImageParams::default()).embed(&mut m, ContentId::from_u64(77)).unwrap();
        key
    };
    for (name, im) in [("orig", &img), ("marked", &m)] {
        let short = im.width().min(im.height()) as usize;
        let k = ((short + 256) / 512).max(1);
        let (luma, w, h) = pixels::with_samples!(im, b, layout, { let buf: &[_] = &**b; Ok(pixels::block_luma(buf, layout, k)) }).unwrap();
        let res = lattice::residual(&luma, w, h);
        let bases = lattice::lattice_candidates(&res, w, h, 3);
        println!("{name}: k={k} {w}x{h} bases={bases:?}");
        let d = ImageDetector::new(&key, ImageParams::default()).detect(im).unwrap();
        println!("  {d:?}");
    }
}
