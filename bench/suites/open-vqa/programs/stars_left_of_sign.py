def execute_command(image):
    # Question: How many stars are to the left of the sign?
    # Answer with a number (0 if none), or "N/A" if there is no sign.
    image_patch = ImagePatch(image)
    sign_patches = image_patch.find("sign")
    if len(sign_patches) == 0:
        return "N/A"
    sign_patch = sign_patches[0]
    count = 0
    for star_patch in image_patch.find("star"):
        if star_patch.horizontal_center < sign_patch.horizontal_center:
            # count it only if the attribute model agrees it is a star
            if star_patch.verify_property("object", "star"):
                count += 1
    return str(count)
