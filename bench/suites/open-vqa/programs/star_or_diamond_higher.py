def execute_command(image, my_fig, time_wait_between_lines, syntax):
    # Question: Which is higher up in the picture, the star or the diamond?
    # Answer "star" or "diamond", or "N/A" if one of them is missing.
    image_patch = ImagePatch(image)
    star_patches = image_patch.find("star")
    diamond_patches = image_patch.find("diamond")
    if len(star_patches) == 0 or len(diamond_patches) == 0:
        return "N/A"
    # Stars and diamonds look alike when small: keep the stars the attribute
    # model agrees are stars (all of them if it agrees with none)
    confirmed = [s for s in star_patches if s.verify_property("object", "star")]
    star_patch = confirmed[0] if len(confirmed) > 0 else star_patches[0]
    diamond_patch = diamond_patches[0]
    # vertical_center grows upwards
    if star_patch.vertical_center > diamond_patch.vertical_center:
        return "star"
    return "diamond"
