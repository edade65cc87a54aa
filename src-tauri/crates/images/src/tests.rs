use std::io::Cursor;

use image::{ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};

use super::*;

fn encode(picture: impl Into<DynamicImage>, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    picture.into().write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn solid(w: u32, h: u32, colour: [u8; 3]) -> RgbImage {
    RgbImage::from_pixel(w, h, Rgb(colour))
}

#[test]
fn a_small_picture_keeps_its_size_and_colour() {
    for format in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::Gif] {
        let image = read(&encode(solid(64, 48, [220, 20, 20]), format), 896, 5).unwrap();
        assert_eq!((image.at, image.width, image.height, image.rgb.len()), (5, 64, 48, 64 * 48 * 3), "{format:?}");
        let [r, g, b] = [image.rgb[0], image.rgb[1], image.rgb[2]];
        assert!(r > 200 && g < 40 && b < 40, "{format:?}: {r} {g} {b}");
    }
}

#[test]
fn a_large_picture_is_scaled_to_the_side_the_projector_reads() {
    let image = read(&encode(solid(3000, 1000, [0, 0, 255]), ImageFormat::Png), 896, 0).unwrap();
    assert_eq!((image.width, image.height), (896, 299));
    assert_eq!(image.rgb.len(), 896 * 299 * 3);
}

#[test]
fn transparency_is_laid_over_white() {
    let mut rgba = RgbaImage::from_pixel(4, 4, Rgba([0, 0, 0, 0]));
    rgba.put_pixel(0, 0, Rgba([0, 0, 0, 255]));
    let image = read(&encode(rgba, ImageFormat::Png), 896, 0).unwrap();
    assert_eq!(&image.rgb[0..3], &[0, 0, 0]);
    assert_eq!(&image.rgb[3..6], &[255, 255, 255]);
}

#[test]
fn damaged_and_foreign_files_are_said_in_words() {
    let png = encode(solid(200, 200, [1, 2, 3]), ImageFormat::Png);
    let cut = read(&png[..png.len() / 2], 896, 0).unwrap_err();
    assert!(matches!(cut, ImageError::Damaged { format: "PNG", .. }), "{cut:?}");
    assert_eq!(types::Problem::sentence(&cut, types::Audience::Person), "The PNG picture is damaged or cut short.");

    let mut jpeg = encode(solid(200, 200, [1, 2, 3]), ImageFormat::Jpeg);
    let n = jpeg.len();
    jpeg.truncate(n / 3);
    assert!(matches!(read(&jpeg, 896, 0), Err(ImageError::Damaged { format: "JPEG", .. })));

    assert_eq!(read(b"hello, this is text", 896, 0), Err(ImageError::NotAPicture { starts: Some("hello, this".into()) }));
    assert_eq!(read(&[0, 159, 146, 150, 0, 1], 896, 0), Err(ImageError::NotAPicture { starts: None }));
    assert_eq!(read(&vec![0u8; MAX_FILE_BYTES + 1], 896, 0), Err(ImageError::FileTooLarge { bytes: MAX_FILE_BYTES as u64 + 1 }));
}

/// A PNG whose header claims 20,000 × 20,000 pixels (1.2 GB decoded) and whose data is a few
/// bytes: refused from its header, before anything is decoded.
#[test]
fn a_decompression_bomb_is_refused_from_its_header() {
    let mut png = encode(solid(1, 1, [0, 0, 0]), ImageFormat::Png);
    // IHDR's data starts at 16: the width, then the height, big-endian; its CRC follows at 29.
    png[16..20].copy_from_slice(&20_000u32.to_be_bytes());
    png[20..24].copy_from_slice(&20_000u32.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    let started = std::time::Instant::now();
    assert_eq!(read(&png, 896, 0), Err(ImageError::TooManyPixels { width: 20_000, height: 20_000 }));
    assert!(started.elapsed().as_secs() < 5);
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[test]
fn data_urls_are_read_and_addresses_never_fetched() {
    let png = encode(solid(2, 2, [9, 9, 9]), ImageFormat::Png);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
    assert_eq!(from_data_url(&format!("data:image/png;base64,{b64}")).unwrap(), png);
    assert_eq!(from_base64(&format!("{}\n{}", &b64[..8], &b64[8..])).unwrap(), png);
    assert_eq!(from_data_url("https://example.com/cat.png"), Err(ImageError::NotADataUrl { scheme: "https".into() }));
    assert!(matches!(from_data_url("data:image/png,rawbytes"), Err(ImageError::BadDataUrl { .. })));
    assert!(matches!(from_data_url(&format!("data:text/plain;base64,{b64}")), Err(ImageError::BadDataUrl { .. })));
    assert!(matches!(from_data_url("data:image/png;base64,@@@@"), Err(ImageError::BadDataUrl { .. })));
}

#[test]
fn a_picture_comes_back_as_png() {
    let image = read(&encode(solid(3, 2, [10, 20, 30]), ImageFormat::Png), 896, 0).unwrap();
    let again = read(&png(&image).unwrap(), 896, 0).unwrap();
    assert_eq!(again, image);
}

#[test]
fn a_picture_read_at_one_bound_is_shrunk_to_another() {
    let mut image = read(&encode(solid(1000, 500, [9, 9, 9]), ImageFormat::Png), 1024, 3).unwrap();
    shrink(&mut image, 560);
    assert_eq!((image.width, image.height, image.at, image.rgb.len()), (560, 280, 3, 560 * 280 * 3));
    shrink(&mut image, 896);
    assert_eq!(image.width, 560, "never enlarged");
}
